/* A program outside the project that uses the installed libpartial: the
 * sum of the ranks, checked against the closed form. */
#include <libpartial.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    lp_comm_t comm;
    lp_result_t rc = lp_comm_create(MPI_COMM_WORLD, &comm);
    int rank = 0, size = 1;
    if (rc == LP_SUCCESS) rc = lp_comm_rank(comm, &rank);
    if (rc == LP_SUCCESS) rc = lp_comm_size(comm, &size);
    int64_t mine = rank, total = -1;
    if (rc == LP_SUCCESS) rc = lp_allreduce(&mine, &total, 1, LP_INT64, LP_SUM, comm);
    if (rc != LP_SUCCESS) {
        fprintf(stderr, "%s: %s\n", lp_result_string(rc), lp_get_last_error());
        MPI_Finalize();
        return 1;
    }
    int ok = total == (int64_t)size * (size - 1) / 2;
    if (rank == 0) printf("consumer: sum of ranks %lld %s\n", (long long)total, ok ? "ok" : "WRONG");
    lp_comm_destroy(comm);
    MPI_Finalize();
    return ok ? 0 : 1;
}
