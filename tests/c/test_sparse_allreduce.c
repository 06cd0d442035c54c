/* Sparse allreduce through the C API: every algorithm, blocking and
 * nonblocking, against a dense reference that each rank computes from every
 * rank's regenerated input (exact for int64), and float32 results compared
 * bit for bit across ranks. Run with LP_MAX_MPI_COUNT set low, so payloads
 * take the chunked path. */
#include "check.h"

#include <math.h>
#include <string.h>

enum { DIM = 3001 };

static int64_t entries_of(int rank, int round) { return (rank * 131 + round * 977) % 1500 + (round == 2 ? 0 : 1); }

/* Unsorted, with repeats: index i % DIM drawn at random. */
static void make_input(int rank, int round, int64_t *indices, int64_t *values, int64_t n)
{
    uint64_t state = ((uint64_t)rank << 32) ^ (uint64_t)round;
    for (int64_t i = 0; i < n; i++) {
        indices[i] = (int64_t)(test_random(&state) % DIM);
        values[i] = (int64_t)(test_random(&state) % 2001) - 1000;
    }
}

static uint64_t fnv1a(const void *data, size_t bytes)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static lp_sparse_result_t run(lp_sparse_algorithm_t algorithm, const void *indices, lp_datatype_t index_type,
                              const void *values, lp_datatype_t datatype, int64_t n, int64_t size, int nonblocking,
                              lp_comm_t comm)
{
    lp_sparse_result_t result = NULL;
    if (nonblocking) {
        lp_request_t request;
        CHECK_OK(lp_isparse_allreduce(indices, index_type, values, datatype, n, size, algorithm, 0, comm, &result,
                                      &request));
        int done = 0;
        while (!done) CHECK_OK(lp_request_test(request, &done));
        CHECK_OK(lp_request_wait(request));
    } else {
        CHECK_OK(lp_sparse_allreduce(indices, index_type, values, datatype, n, size, algorithm, 0, comm, &result));
    }
    CHECK(lp_sparse_result_size(result) == size);
    if (algorithm != LP_SPARSE_AUTO) CHECK(lp_sparse_result_algorithm(result) == algorithm);
    if (!lp_sparse_result_is_dense(result)) {
        const int64_t *idx = lp_sparse_result_indices(result);
        for (int64_t i = 1; i < lp_sparse_result_nnz(result); i++) CHECK(idx[i - 1] < idx[i]);
    }
    return result;
}

static void check_round(lp_comm_t comm, int rank, int size, int round)
{
    int64_t expected[DIM] = {0};
    int64_t *indices = NULL, *values = NULL, n = 0;
    for (int r = 0; r < size; r++) {
        int64_t count = entries_of(r, round);
        int64_t *ri = malloc(sizeof(int64_t) * (size_t)(count + 1)), *rv = malloc(sizeof(int64_t) * (size_t)(count + 1));
        make_input(r, round, ri, rv, count);
        for (int64_t i = 0; i < count; i++) expected[ri[i]] += rv[i];
        if (r == rank) {
            indices = ri; values = rv; n = count;
        } else {
            free(ri); free(rv);
        }
    }
    int32_t *narrow = malloc(sizeof(int32_t) * (size_t)(n + 1));
    float *fvalues = malloc(sizeof(float) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) {
        narrow[i] = (int32_t)indices[i];
        fvalues[i] = (float)values[i] * 0.37f;
    }
    for (int a = 0; a < LP_SPARSE_NUM_ALGORITHMS; a++) {
        int nonblocking = (a + round) % 2;
        lp_sparse_result_t result = run((lp_sparse_algorithm_t)a, indices, LP_INT64, values, LP_INT64, n, DIM,
                                        nonblocking, comm);
        int64_t dense[DIM];
        CHECK_OK(lp_sparse_result_to_dense(result, dense));
        for (int i = 0; i < DIM; i++) CHECK(dense[i] == expected[i]);
        lp_sparse_result_free(result);

        result = run((lp_sparse_algorithm_t)a, narrow, LP_INT32, fvalues, LP_FLOAT32, n, DIM, !nonblocking, comm);
        float fdense[DIM];
        CHECK_OK(lp_sparse_result_to_dense(result, fdense));
        for (int i = 0; i < DIM; i++) CHECK(fabsf(fdense[i] - 0.37f * (float)expected[i]) <= 1e-3f * (1 + fabsf(fdense[i])));
        uint64_t mine = fnv1a(fdense, sizeof fdense), *all = malloc(sizeof(uint64_t) * (size_t)size);
        MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) CHECK(all[r] == mine);
        free(all);
        lp_sparse_result_free(result);
    }
    free(indices); free(values); free(narrow); free(fvalues);
}

/* size 2^40: only the sparse algorithms can, and int64 indices must be exact. */
static void check_huge(lp_comm_t comm, int rank, int size)
{
    const int64_t dim = (int64_t)1 << 40;
    int64_t indices[3] = {dim - 1 - rank, 12345, (int64_t)rank << 33};
    double values[3] = {1.0, 2.0, 0.5};
    const lp_sparse_algorithm_t sparse_ones[] = {LP_SPARSE_RECURSIVE_DOUBLING, LP_SPARSE_SPLIT_ALLGATHER,
                                                 LP_SPARSE_ALLGATHER, LP_SPARSE_AUTO};
    for (size_t k = 0; k < sizeof sparse_ones / sizeof *sparse_ones; k++) {
        lp_sparse_result_t result = run(sparse_ones[k], indices, LP_INT64, values, LP_FLOAT64, 3, dim, (int)k % 2, comm);
        CHECK(!lp_sparse_result_is_dense(result));
        const int64_t *idx = lp_sparse_result_indices(result);
        const double *val = lp_sparse_result_values(result);
        int64_t nnz = lp_sparse_result_nnz(result);
        CHECK(nnz == 2 * size + 1); /* dim-1-r and r<<33 for every r, and 12345 */
        for (int64_t i = 0; i < nnz; i++) {
            if (idx[i] == 12345) CHECK(val[i] == 2.0 * size);
            else CHECK(val[i] == (idx[i] >= dim - size ? 1.0 : 0.5));
        }
        lp_sparse_result_free(result);
    }
    lp_sparse_result_t result = NULL;
    lp_result_t rc = lp_sparse_allreduce(indices, LP_INT64, values, LP_FLOAT64, 3, dim, LP_SPARSE_DENSE, 0, comm, &result);
    CHECK(rc == LP_ERR_NO_MEMORY && result == NULL);
}

/* Empty vectors, and a zero-length dimension, for every algorithm. */
static void check_empty(lp_comm_t comm)
{
    for (int a = 0; a < LP_SPARSE_NUM_ALGORITHMS; a++)
        for (int64_t dim = 0; dim <= 5; dim += 5) {
            lp_sparse_result_t result = run((lp_sparse_algorithm_t)a, NULL, LP_INT32, NULL, LP_FLOAT64, 0, dim, a % 2, comm);
            double dense[5] = {1, 1, 1, 1, 1};
            CHECK_OK(lp_sparse_result_to_dense(result, dense));
            for (int64_t i = 0; i < dim; i++) CHECK(dense[i] == 0.0);
            lp_sparse_result_free(result);
        }
}

/* Two operations in flight on one communicator must not cross-match. */
static void check_concurrent(lp_comm_t comm, int rank, int size)
{
    int64_t ia[] = {rank, 7}, ib[] = {3};
    int64_t va[] = {1, 1}, vb[] = {rank + 1};
    lp_sparse_result_t ra, rb;
    lp_request_t qa, qb;
    CHECK_OK(lp_isparse_allreduce(ia, LP_INT64, va, LP_INT64, 2, 64, LP_SPARSE_SPLIT_ALLGATHER, 0, comm, &ra, &qa));
    CHECK_OK(lp_isparse_allreduce(ib, LP_INT64, vb, LP_INT64, 1, 64, LP_SPARSE_RECURSIVE_DOUBLING, 0, comm, &rb, &qb));
    CHECK_OK(lp_request_wait(qb));
    CHECK_OK(lp_request_wait(qa));
    int64_t da[64], db[64];
    CHECK_OK(lp_sparse_result_to_dense(ra, da));
    CHECK_OK(lp_sparse_result_to_dense(rb, db));
    CHECK(db[3] == (int64_t)size * (size + 1) / 2);
    for (int i = 0; i < 64; i++) CHECK(da[i] == (i < size) + (i == 7 ? size : 0));
    lp_sparse_result_free(ra);
    lp_sparse_result_free(rb);
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    lp_comm_t world;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &world));
    int rank, size;
    lp_comm_rank(world, &rank);
    lp_comm_size(world, &size);
    for (int round = 0; round < 3; round++) check_round(world, rank, size, round);
    check_huge(world, rank, size);
    check_concurrent(world, rank, size);
    check_empty(world);

    /* A bad index on the last rank fails every rank, and nobody hangs. */
    int64_t index = rank == size - 1 ? 5000 : 1, one = 1;
    lp_sparse_result_t result = NULL;
    CHECK(lp_sparse_allreduce(&index, LP_INT64, &one, LP_INT64, 1, 10, LP_SPARSE_AUTO, 0, world, &result) != LP_SUCCESS);
    CHECK(result == NULL);
    CHECK_OK(lp_comm_destroy(world));
    MPI_Finalize();
    return 0;
}
