/* Sparse allreduce from C: each rank contributes a few (index, value) pairs
 * of a vector of 2^24 floats; every rank gets the same sorted sum.
 *
 *   mpicc sparse_allreduce.c -lpartial -o sparse_allreduce
 *   mpirun -n 4 ./sparse_allreduce
 */
#include <libpartial.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lp_comm_t comm;
    if (lp_comm_create(MPI_COMM_WORLD, &comm) != LP_SUCCESS) return 1;
    int rank, size;
    lp_comm_rank(comm, &rank);
    lp_comm_size(comm, &size);

    /* Unsorted, with a repeat (index 42 twice): repeats are summed locally. */
    const int64_t dimension = (int64_t)1 << 24;
    int32_t indices[] = {1000 + rank, 42, 7, 42};
    float values[] = {1.0f, 0.5f, 2.0f, 0.5f};

    lp_sparse_result_t sum = NULL;
    lp_request_t request;
    lp_result_t rc = lp_isparse_allreduce(indices, LP_INT32, values, LP_FLOAT32, 4, dimension, LP_SPARSE_AUTO,
                                          0.0, comm, &sum, &request);
    if (rc == LP_SUCCESS) rc = lp_request_wait(request); /* compute here while it runs */
    if (rc != LP_SUCCESS) {
        fprintf(stderr, "sparse allreduce failed: %s\n", lp_get_last_error());
        lp_sparse_result_free(sum);
        MPI_Finalize();
        return 1;
    }

    int ok = !lp_sparse_result_is_dense(sum) && lp_sparse_result_nnz(sum) == 2 + size;
    const int64_t *sum_indices = lp_sparse_result_indices(sum);
    const float *sum_values = lp_sparse_result_values(sum);
    for (int64_t i = 0; ok && i < lp_sparse_result_nnz(sum); i++) {
        float expected = sum_indices[i] == 7 ? 2.0f * size : sum_indices[i] == 42 ? 1.0f * size : 1.0f;
        ok = sum_values[i] == expected;
    }
    if (rank == 0)
        printf("%s: %lld nonzeros of %lld, algorithm %s\n", ok ? "correct" : "WRONG",
               (long long)lp_sparse_result_nnz(sum), (long long)dimension,
               lp_sparse_algorithm_name(lp_sparse_result_algorithm(sum)));
    lp_sparse_result_free(sum);
    lp_comm_destroy(comm);
    MPI_Finalize();
    return ok ? 0 : 1;
}
