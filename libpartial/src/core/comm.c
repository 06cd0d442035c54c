/* Library communicators: the private duplicate, released when MPI
 * finalizes if the user never destroys it, and the collective error
 * agreement. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void release_mpi_resources(struct lp_comm_s *comm)
{
    if (comm->released) return;
    comm->released = 1;
    MPI_Comm_free(&comm->comm);
}

static void release_at_finalize(struct lp_registry_link *link)
{
    release_mpi_resources(LP_CONTAINER_OF(link, struct lp_comm_s, registry));
}

static struct lp_registry live_comms = LP_REGISTRY_INIT(release_at_finalize);

int64_t lp_comm_live_count(void) { return lp_registry_count(&live_comms); }

lp_result_t lp_comm_create(MPI_Comm user_comm, lp_comm_t *out)
{
    if (out == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    *out = NULL;
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "MPI is not initialized, or already finalized");
    if (user_comm == MPI_COMM_NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "communicator is MPI_COMM_NULL");
    int is_inter = 0;
    LP_TRY_MPI(MPI_Comm_test_inter(user_comm, &is_inter));
    if (is_inter) return lp_fail(LP_ERR_UNSUPPORTED, "intercommunicators are not supported");

    struct lp_comm_s *comm = calloc(1, sizeof *comm);
    if (comm == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a communicator");
    lp_result_t rc = lp_check_mpi(MPI_Comm_dup(user_comm, &comm->comm), "MPI_Comm_dup");
    if (rc != LP_SUCCESS) {
        free(comm);
        return rc;
    }
    /* Errors come back as codes: the library never aborts the job. */
    MPI_Comm_set_errhandler(comm->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm->comm, &comm->rank);
    MPI_Comm_size(comm->comm, &comm->size);
    rc = lp_registry_add(&live_comms, &comm->registry);
    if (rc != LP_SUCCESS) {
        MPI_Comm_free(&comm->comm);
        free(comm);
        return rc;
    }
    *out = comm;
    return LP_SUCCESS;
}

lp_result_t lp_comm_destroy(lp_comm_t comm)
{
    if (comm == NULL) return LP_SUCCESS;
    lp_registry_remove(&live_comms, &comm->registry);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) release_mpi_resources(comm);
    free(comm);
    return LP_SUCCESS;
}

lp_result_t lp_check_comm(lp_comm_t comm)
{
    if (comm == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "communicator is NULL");
    if (comm->released) return lp_fail(LP_ERR_CLOSED, "communicator was released (MPI finalized)");
    return LP_SUCCESS;
}

lp_result_t lp_comm_rank(lp_comm_t comm, int *rank)
{
    LP_TRY(lp_check_comm(comm));
    if (rank == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    *rank = comm->rank;
    return LP_SUCCESS;
}

lp_result_t lp_comm_size(lp_comm_t comm, int *size)
{
    LP_TRY(lp_check_comm(comm));
    if (size == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    *size = comm->size;
    return LP_SUCCESS;
}

int lp_comm_next_tag_base(lp_comm_t comm)
{
    /* MPI guarantees tags up to at least 32767; a few thousand calls in
     * flight at once on one communicator is far beyond any real use. */
    const uint32_t slots = 32767 / LP_TAGS_PER_OP;
    int base = (int)(comm->op_sequence % slots) * LP_TAGS_PER_OP;
    comm->op_sequence++;
    return base;
}

/* The shortest decimal that reads back as the same double. */
static void format_double(char *out, size_t size, double value)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(out, size, "%.*g", digits, value);
        if (strtod(out, NULL) == value) return;
    }
}

static void format_value(char *out, size_t size, const struct lp_param *param, int64_t value)
{
    if (param != NULL && param->kind == LP_PARAM_DOUBLE) {
        double real;
        memcpy(&real, &value, sizeof real);
        format_double(out, size, real);
    } else if (param != NULL && param->kind == LP_PARAM_ENUM && value >= 0 && value < param->nnames &&
               param->names[value] != NULL) {
        snprintf(out, size, "%s", param->names[value]);
    } else {
        snprintf(out, size, "%lld", (long long)value);
    }
}

/* Every rank knows that parameter index differs, and its extremes: one more
 * reduction, on this error path only, finds the lowest rank holding each. */
static lp_result_t explain_mismatch(lp_comm_t comm, const struct lp_param *param, int index, int64_t mine,
                                    int64_t min, int64_t max)
{
    char label[32], low[64], high[64];
    snprintf(label, sizeof label, "argument %d", index);
    const char *name = param != NULL ? param->name : label;
    const char *hint = param != NULL && param->hint != NULL ? param->hint : NULL;
    format_value(low, sizeof low, param, min);
    format_value(high, sizeof high, param, max);
    int64_t holders[2] = {mine == min ? comm->rank : comm->size, mine == max ? comm->rank : comm->size};
    if (MPI_Allreduce(MPI_IN_PLACE, holders, 2, MPI_INT64_T, MPI_MIN, comm->comm) != MPI_SUCCESS)
        return lp_fail(LP_ERR_MISMATCH, "%s differs across ranks: %s on some, %s on others%s%s", name, low, high,
                       hint ? "; " : "", hint ? hint : "");
    return lp_fail(LP_ERR_MISMATCH, "%s differs across ranks: %s on rank %lld, %s on rank %lld%s%s", name, low,
                   (long long)holders[0], high, (long long)holders[1], hint ? "; " : "", hint ? hint : "");
}

lp_result_t lp_comm_agree_max(lp_comm_t comm, lp_result_t local, const int64_t *params,
                              const struct lp_param *described, int nparams, int64_t *maxima, int nmaxima)
{
    LP_TRY(lp_check_comm(comm));
    if (nparams < 0 || nparams > LP_AGREE_SLOTS || (nparams > 0 && params == NULL)) {
        local = lp_fail(LP_ERR_INVALID_ARGUMENT, "lp_comm_agree: %d parameters", nparams);
        nparams = 0;
    }
    if (nmaxima < 0 || nmaxima > LP_AGREE_MAX_MAXIMA || (nmaxima > 0 && maxima == NULL)) {
        local = lp_fail(LP_ERR_INVALID_ARGUMENT, "lp_comm_agree_max: %d maxima", nmaxima);
        nmaxima = 0;
    }
    /* One MPI_MAX reduction carries everything: the worst result code, the
     * lowest failing rank (as -rank), the free maxima, and each
     * parameter's max and, as ~value (which reverses the order with no
     * overflow, unlike -value at INT64_MIN), its min. */
    enum { HEADER = 2 + LP_AGREE_MAX_MAXIMA };
    int64_t v[HEADER + 2 * LP_AGREE_SLOTS] = {0};
    v[0] = (int64_t)local;
    v[1] = local != LP_SUCCESS ? -(int64_t)comm->rank : INT64_MIN;
    for (int i = 0; i < nmaxima; i++) v[2 + i] = maxima[i];
    for (int i = 0; i < nparams; i++) {
        v[HEADER + 2 * i] = params[i];
        v[HEADER + 2 * i + 1] = ~params[i];
    }
    LP_TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, v, HEADER + 2 * LP_AGREE_SLOTS, MPI_INT64_T, MPI_MAX, comm->comm));
    for (int i = 0; i < nmaxima; i++) maxima[i] = v[2 + i];
    if (v[0] != LP_SUCCESS) {
        int failed_rank = (int)-v[1];
        lp_result_t agreed = (lp_result_t)v[0];
        /* The rank that failed keeps its own detail; the others learn who. */
        if (local == LP_SUCCESS || local != agreed)
            lp_fail(agreed, "rank %d of %d failed: %s", failed_rank, comm->size, lp_result_string(agreed));
        return agreed;
    }
    for (int i = 0; i < nparams; i++) {
        int64_t max = v[HEADER + 2 * i], min = ~v[HEADER + 2 * i + 1];
        if (max != min)
            return explain_mismatch(comm, described != NULL ? &described[i] : NULL, i, params[i], min, max);
    }
    return LP_SUCCESS;
}

lp_result_t lp_comm_agree(lp_comm_t comm, lp_result_t local, const int64_t *params, int nparams)
{
    if (nparams > LP_AGREE_MAX_PARAMS) {
        local = lp_fail(LP_ERR_INVALID_ARGUMENT, "lp_comm_agree: %d parameters (at most %d)", nparams,
                        LP_AGREE_MAX_PARAMS);
        nparams = 0;
    }
    return lp_comm_agree_max(comm, local, params, NULL, nparams, NULL, 0);
}

void lp_get_version(int *major, int *minor, int *patch)
{
    if (major) *major = LP_VERSION_MAJOR;
    if (minor) *minor = LP_VERSION_MINOR;
    if (patch) *patch = LP_VERSION_PATCH;
}

lp_result_t lp_mpi_library_version(char *buf, int buflen)
{
    if (buf == NULL || buflen < MPI_MAX_LIBRARY_VERSION_STRING)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "buffer must hold MPI_MAX_LIBRARY_VERSION_STRING (%d) characters",
                       MPI_MAX_LIBRARY_VERSION_STRING);
    int length = 0;
    LP_TRY_MPI(MPI_Get_library_version(buf, &length));
    buf[length] = '\0';
    return LP_SUCCESS;
}
