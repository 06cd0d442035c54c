/* auto's cost model through the C API: a file that is named but not a cost
 * model is an error for auto on every rank (and for the model queries on
 * the rank that read it), the setter replaces it, and models that differ
 * across ranks are a mismatch on every rank, not different algorithms. Each
 * rank writes its own file and names it before the library first needs the
 * model (it reads the variable once). */
#include "check.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static lp_result_t auto_sum(lp_comm_t comm, int rank, int size, int64_t *total)
{
    const int64_t indices[2] = {rank % 7, 5};
    const int64_t values[2] = {1, 2};
    lp_sparse_result_t result = NULL;
    lp_result_t rc =
        lp_sparse_allreduce(indices, LP_INT64, values, LP_INT64, 2, 16, LP_SPARSE_AUTO, 0, comm, &result);
    if (rc == LP_SUCCESS) {
        int64_t dense[16];
        CHECK_OK(lp_sparse_result_to_dense(result, dense));
        *total = 0;
        for (int i = 0; i < 16; i++) *total += dense[i];
        CHECK(dense[5] >= 2 * size);
        lp_sparse_result_free(result);
    } else {
        CHECK(result == NULL);
    }
    return rc;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lp_comm_t comm;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &comm));
    int rank, size;
    CHECK_OK(lp_comm_rank(comm, &rank));
    CHECK_OK(lp_comm_size(comm, &size));

    /* The last rank's file is cut short; the others' are fine. */
    char path[] = "/tmp/lp-cost-model-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *content = rank == size - 1 ? "{\"alpha\": 1e-6, \"beta\"" : "{\"alpha\": 2e-6, \"gamma\": 0}";
    CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
    close(fd);
    CHECK(setenv("LP_SPARSE_COST_MODEL", path, 1) == 0);

    int64_t total = 0;
    lp_result_t first = auto_sum(comm, rank, size, &total);
    unlink(path); /* read by now, once and for all */
    CHECK(first == LP_ERR_INVALID_ARGUMENT);
    double alpha, beta, gamma, delta;
    lp_result_t got = lp_sparse_get_cost_model(&alpha, &beta, &gamma, &delta);
    if (rank == size - 1) {
        CHECK(got == LP_ERR_INVALID_ARGUMENT);
        CHECK(strstr(lp_get_last_error(), path) != NULL);
        CHECK(strstr(lp_get_last_error(), "not a JSON object") != NULL);
        CHECK(isnan(lp_sparse_predict_seconds(LP_SPARSE_DENSE, 16, 2, size, LP_INT64, 0)));
        CHECK(lp_sparse_select_algorithm(16, 2, size, LP_INT64, 0) == LP_SPARSE_AUTO);
    } else {
        CHECK_OK(got);
        CHECK(alpha == 2e-6 && gamma == 0 && beta > 0 && delta > 0); /* beta, delta: the defaults */
    }
    /* Explicit algorithms do not need the model. */
    const int64_t index = rank, one = 1;
    lp_sparse_result_t result = NULL;
    CHECK_OK(lp_sparse_allreduce(&index, LP_INT64, &one, LP_INT64, 1, size, LP_SPARSE_ALLGATHER, 0, comm, &result));
    CHECK(lp_sparse_result_nnz(result) == size);
    lp_sparse_result_free(result);

    /* The setter replaces the file, and what was wrong with it. */
    CHECK_OK(lp_sparse_set_cost_model(1e-6, 1e-10, 5e-9, 1e-10));
    CHECK_OK(auto_sum(comm, rank, size, &total));
    CHECK(total == 3 * (int64_t)size);

    /* One rank's model differs. */
    if (size > 1) {
        if (rank == 1) CHECK_OK(lp_sparse_set_cost_model(1e-6, 2.5e-10, 5e-9, 1e-10));
        CHECK(auto_sum(comm, rank, size, &total) == LP_ERR_MISMATCH);
        CHECK(strncmp(lp_get_last_error(), "cost model beta differs across ranks: 1e-10 on rank 0, 2.5e-10 on rank 1",
                      strlen("cost model beta differs across ranks: 1e-10 on rank 0, 2.5e-10 on rank 1")) == 0);
    }
    CHECK_OK(lp_comm_destroy(comm));
    MPI_Finalize();
    return 0;
}
