/* Sparse allreduce: the public entry points, the error agreement, the
 * algorithm choice, the request, and the result object. */
#include "sparse/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const algorithm_names[LP_SPARSE_NUM_ALGORITHMS] = {
    [LP_SPARSE_AUTO] = "auto",
    [LP_SPARSE_RECURSIVE_DOUBLING] = "recursive_doubling",
    [LP_SPARSE_SPLIT_ALLGATHER] = "split_allgather",
    [LP_SPARSE_DSAR] = "dsar",
    [LP_SPARSE_ALLGATHER] = "allgather",
    [LP_SPARSE_DENSE] = "dense",
};

static int algorithm_is_valid(lp_sparse_algorithm_t algorithm)
{
    return (int)algorithm >= 0 && algorithm < LP_SPARSE_NUM_ALGORITHMS;
}

LP_DEFINE_NAME_LOOKUP(lp_sparse_algorithm_name, lp_sparse_algorithm_from_name, lp_sparse_algorithm_t, algorithm_names,
                      LP_SPARSE_NUM_ALGORITHMS, "sparse algorithm")

static int needs_dense_buffer(lp_sparse_algorithm_t algorithm)
{
    return algorithm == LP_SPARSE_DENSE || algorithm == LP_SPARSE_DSAR;
}

static lp_result_t check_call(lp_sparse_algorithm_t algorithm, double density_threshold,
                              const lp_sparse_result_t *result)
{
    if (result == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "result pointer is NULL");
    if (!algorithm_is_valid(algorithm))
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "algorithm %d is not an lp_sparse_algorithm_t", (int)algorithm);
    if (!(density_threshold >= 0) || !isfinite(density_threshold))
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "density_threshold %g is not a finite number >= 0",
                       density_threshold);
    return LP_SUCCESS;
}

/* auto knows its algorithm only after the agreement, from the densest
 * rank's entry count. Each rank gets ready beforehand for what its own count
 * would choose (sorted input for a sparse algorithm, the dense vector for
 * dense and dsar), so that when every rank guessed right, which is the
 * common case, nothing can fail after the agreement and it is the only one. */
static lp_result_t get_ready_for(struct lp_sparse_op *op, lp_sparse_algorithm_t algorithm, int sorted,
                                 const void *indices, lp_datatype_t index_type, const void *values, int64_t nnz)
{
    if (needs_dense_buffer(algorithm)) LP_TRY(lp_sparse_op_reserve_dense(op));
    if (sorted && algorithm != LP_SPARSE_DENSE) return LP_SUCCESS;
    return lp_sparse_op_load_input(op, algorithm, indices, index_type, values, nnz);
}

/* Validates (and, for the sparse algorithms, normalizes) locally, agrees
 * across ranks, chooses the algorithm, and starts the operation (its first
 * exchange is posted). */
static lp_result_t start(const void *indices, lp_datatype_t index_type, const void *values,
                         lp_datatype_t datatype, int64_t nnz, int64_t size, lp_sparse_algorithm_t algorithm,
                         double density_threshold, lp_comm_t comm, lp_sparse_result_t *result,
                         int blocking, struct lp_sparse_op **out)
{
    *out = NULL;
    LP_TRY(lp_check_comm(comm));
    struct lp_sparse_op *op = NULL;
    struct lp_sparse_vec local;
    memset(&local, 0, sizeof local);
    lp_result_t rc = check_call(algorithm, density_threshold, result);
    /* auto's model is agreed with the other arguments: every rank that gets
     * past the agreement chooses from the same count with the same
     * constants, so they cannot run different algorithms. An explicit
     * algorithm does not read the model (zeros). */
    struct lp_cost_model model = {0, 0, 0, 0};
    if (rc == LP_SUCCESS && algorithm == LP_SPARSE_AUTO) rc = lp_cost_model_get(&model);
    lp_sparse_algorithm_t prepared = algorithm;
    if (rc == LP_SUCCESS && algorithm == LP_SPARSE_AUTO)
        prepared = lp_sparse_select_with(&model, size, nnz, comm->size, datatype, density_threshold);
    /* dense reads the input only once it has its dense vector, and adds it
     * as it comes, with no sort. */
    const int sorted = prepared != LP_SPARSE_DENSE;
    if (rc == LP_SUCCESS)
        rc = sorted ? lp_sparse_normalize(indices, index_type, values, datatype, nnz, size, &local)
                    : lp_sparse_check_input(indices, index_type, values, datatype, nnz, size);
    if (rc == LP_SUCCESS)
        rc = lp_sparse_op_create(comm, algorithm, datatype, size, density_threshold, &local, &op);
    const int reserves_dense = needs_dense_buffer(prepared);
    if (rc == LP_SUCCESS && reserves_dense) rc = lp_sparse_op_reserve_dense(op);
    lp_sparse_vec_free(&local);
    struct lp_sparse_result_s *made = NULL;
    if (rc == LP_SUCCESS && (made = calloc(1, sizeof *made)) == NULL)
        rc = lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a sparse result");

    static const char same_model[] = "auto needs the same cost model on every rank: the same "
                                     "LP_SPARSE_COST_MODEL file, or the same constants given to "
                                     "lp_sparse_set_cost_model";
    static const struct lp_param described[] = {
        LP_PARAM_INT("size"),
        LP_PARAM_NAMED("value dtype", lp_datatype_names),
        LP_PARAM_NAMED("index dtype", lp_datatype_names),
        LP_PARAM_NAMED("algorithm", algorithm_names),
        LP_PARAM_REAL("density_threshold"),
        {.name = "cost model alpha", .kind = LP_PARAM_DOUBLE, .hint = same_model},
        {.name = "cost model beta", .kind = LP_PARAM_DOUBLE, .hint = same_model},
        {.name = "cost model gamma", .kind = LP_PARAM_DOUBLE, .hint = same_model},
        {.name = "cost model delta", .kind = LP_PARAM_DOUBLE, .hint = same_model},
    };
    /* -0.0 passes the check and means the default, as 0.0 does: the same bits for both. */
    const double threshold = density_threshold == 0 ? 0.0 : density_threshold;
    const int64_t params[] = {size, (int64_t)datatype, (int64_t)index_type, (int64_t)algorithm,
                              lp_double_bits(threshold), lp_double_bits(model.alpha), lp_double_bits(model.beta),
                              lp_double_bits(model.gamma), lp_double_bits(model.delta)};
    enum { DENSEST, ANY_UNSORTED, ANY_WITHOUT_DENSE };
    int64_t maxima[] = {nnz, !sorted, !reserves_dense};
    rc = lp_comm_agree_max(comm, rc, params, described, 9, maxima, 3);
    if (rc == LP_SUCCESS) {
        if (algorithm == LP_SPARSE_AUTO)
            algorithm = lp_sparse_select_with(&model, size, maxima[DENSEST], comm->size, datatype, density_threshold);
        /* Always so for an explicit algorithm: every rank prepared for it. */
        const int everyone_ready = (algorithm == LP_SPARSE_DENSE || !maxima[ANY_UNSORTED]) &&
                                   (!needs_dense_buffer(algorithm) || !maxima[ANY_WITHOUT_DENSE]);
        rc = get_ready_for(op, algorithm, sorted, indices, index_type, values, nnz); /* cannot fail if ready */
        /* A rank that cannot hold its part must not leave the others in the exchange. */
        if (!everyone_ready) rc = lp_comm_agree(comm, rc, NULL, 0);
    }
    if (rc != LP_SUCCESS) {
        lp_sparse_op_destroy(op);
        free(made);
        return rc;
    }
    *result = made;
    (*result)->algorithm = algorithm;
    (*result)->datatype = datatype;
    (*result)->size = size;
    lp_sparse_op_begin(op, algorithm, lp_comm_next_tag_base(comm));
    int done = 0;
    /* A nonblocking call leaves with its first exchange posted. */
    if (!blocking) rc = lp_sparse_op_progress(op, 0, &done);
    if (rc != LP_SUCCESS) {
        lp_sparse_op_destroy(op);
        free(*result);
        *result = NULL;
        return rc;
    }
    *out = op;
    return LP_SUCCESS;
}

lp_result_t lp_sparse_allreduce(const void *indices, lp_datatype_t index_type, const void *values,
                                lp_datatype_t datatype, int64_t nnz, int64_t size,
                                lp_sparse_algorithm_t algorithm, double density_threshold, lp_comm_t comm,
                                lp_sparse_result_t *result)
{
    if (result != NULL) *result = NULL;
    struct lp_sparse_op *op;
    LP_TRY(start(indices, index_type, values, datatype, nnz, size, algorithm, density_threshold, comm, result, 1,
                 &op));
    int done = 0;
    lp_result_t rc = lp_sparse_op_progress(op, 1, &done);
    if (rc == LP_SUCCESS) lp_sparse_op_take_result(op, *result);
    lp_sparse_op_destroy(op);
    if (rc != LP_SUCCESS) {
        lp_sparse_result_free(*result);
        *result = NULL;
    }
    return rc;
}

struct isparse_state {
    struct lp_sparse_op *op;
    lp_sparse_result_t result;
};

static lp_result_t isparse_advance(lp_request_t request, int blocking, int *done)
{
    struct isparse_state *state = request->state;
    LP_TRY(lp_sparse_op_progress(state->op, blocking, done));
    if (*done) lp_sparse_op_take_result(state->op, state->result);
    return LP_SUCCESS;
}

static lp_result_t isparse_test(lp_request_t request, int *done) { return isparse_advance(request, 0, done); }

static lp_result_t isparse_wait(lp_request_t request)
{
    int done = 0;
    return isparse_advance(request, 1, &done);
}

static void isparse_release(void *opaque)
{
    struct isparse_state *state = opaque;
    lp_sparse_op_destroy(state->op);
    free(state);
}

static const struct lp_request_ops isparse_ops = {isparse_test, isparse_wait, isparse_release};

lp_result_t lp_isparse_allreduce(const void *indices, lp_datatype_t index_type, const void *values,
                                 lp_datatype_t datatype, int64_t nnz, int64_t size,
                                 lp_sparse_algorithm_t algorithm, double density_threshold, lp_comm_t comm,
                                 lp_sparse_result_t *result, lp_request_t *request)
{
    if (result != NULL) *result = NULL;
    if (request == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "request pointer is NULL");
    *request = NULL;
    struct lp_sparse_op *op;
    LP_TRY(start(indices, index_type, values, datatype, nnz, size, algorithm, density_threshold, comm, result, 0,
                 &op));
    struct isparse_state *state = malloc(sizeof *state);
    lp_result_t rc = state == NULL ? lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a request") : LP_SUCCESS;
    if (rc == LP_SUCCESS) {
        state->op = op;
        state->result = *result;
        rc = lp_request_create(&isparse_ops, state, request);
    }
    if (rc != LP_SUCCESS) {
        /* The exchange is under way: finish it so the peers are not left waiting. */
        int done = 0;
        lp_sparse_op_progress(op, 1, &done);
        lp_sparse_op_destroy(op);
        free(state);
        lp_sparse_result_free(*result);
        *result = NULL;
    }
    return rc;
}

/* ---- the result ---------------------------------------------------------- */

int lp_sparse_result_is_dense(lp_sparse_result_t result) { return result != NULL && result->is_dense; }

int64_t lp_sparse_result_nnz(lp_sparse_result_t result)
{
    if (result == NULL) return 0;
    return result->is_dense ? result->size : result->sparse.nnz;
}

int64_t lp_sparse_result_size(lp_sparse_result_t result) { return result ? result->size : 0; }

lp_datatype_t lp_sparse_result_datatype(lp_sparse_result_t result) { return result ? result->datatype : LP_INT32; }

lp_sparse_algorithm_t lp_sparse_result_algorithm(lp_sparse_result_t result)
{
    return result ? result->algorithm : LP_SPARSE_AUTO;
}

const int64_t *lp_sparse_result_indices(lp_sparse_result_t result)
{
    return result == NULL || result->is_dense ? NULL : result->sparse.indices;
}

const void *lp_sparse_result_values(lp_sparse_result_t result)
{
    if (result == NULL) return NULL;
    return result->is_dense ? result->dense : result->sparse.values;
}

lp_result_t lp_sparse_result_to_dense(lp_sparse_result_t result, void *dense)
{
    if (result == NULL || (dense == NULL && result->size > 0))
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "result or output buffer is NULL");
    const int64_t width = lp_datatype_size(result->datatype);
    if (result->is_dense)
        memcpy(dense, result->dense, (size_t)(result->size * width));
    else
        lp_sparse_densify(result->sparse.indices, result->sparse.values, result->sparse.nnz, result->datatype, 0,
                          result->size, dense);
    return LP_SUCCESS;
}

void lp_sparse_result_free(lp_sparse_result_t result)
{
    if (result == NULL) return;
    lp_sparse_vec_free(&result->sparse);
    lp_scratch_free(result->dense);
    free(result);
}
