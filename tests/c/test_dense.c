/* Dense allreduce and iallreduce against a reference each rank computes
 * from every rank's regenerated input; exact for integers. The count is
 * larger than LP_MAX_MPI_COUNT when the test sets it, which exercises the
 * chunked (64-bit count) path. */
#include "check.h"

#include <string.h>

static int64_t value_of(int rank, int64_t i, int round)
{
    uint64_t state = ((uint64_t)rank << 40) ^ ((uint64_t)round << 32) ^ (uint64_t)i;
    return (int64_t)(test_random(&state) % 2001) - 1000;
}

static void run_round(lp_comm_t comm, int rank, int size, int64_t count, int round, int nonblocking)
{
    int64_t *send = malloc(sizeof(int64_t) * count), *recv = malloc(sizeof(int64_t) * count);
    double *fsend = malloc(sizeof(double) * count), *frecv = malloc(sizeof(double) * count);
    int32_t *isend = malloc(sizeof(int32_t) * count);
    for (int64_t i = 0; i < count; i++) {
        send[i] = value_of(rank, i, round);
        fsend[i] = (double)send[i];
        isend[i] = (int32_t)send[i];
    }
    if (nonblocking) {
        lp_request_t request;
        CHECK_OK(lp_iallreduce(send, recv, count, LP_INT64, LP_SUM, comm, &request));
        int done = 0;
        while (!done) CHECK_OK(lp_request_test(request, &done));
        CHECK_OK(lp_request_wait(request));
    } else {
        CHECK_OK(lp_allreduce(send, recv, count, LP_INT64, LP_SUM, comm));
    }
    CHECK_OK(lp_allreduce(fsend, frecv, count, LP_FLOAT64, LP_MAX, comm));
    CHECK_OK(lp_allreduce(isend, isend, count, LP_INT32, LP_MIN, comm)); /* in place */
    for (int64_t i = 0; i < count; i++) {
        int64_t sum = 0, max = INT64_MIN, min = INT64_MAX;
        for (int r = 0; r < size; r++) {
            int64_t v = value_of(r, i, round);
            sum += v;
            if (v > max) max = v;
            if (v < min) min = v;
        }
        CHECK(recv[i] == sum);
        CHECK(frecv[i] == (double)max);
        CHECK(isend[i] == (int32_t)min);
    }
    free(send); free(recv); free(fsend); free(frecv); free(isend);
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    lp_comm_t world, half;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &world));
    int rank, size;
    lp_comm_rank(world, &rank);
    lp_comm_size(world, &size);

    for (int round = 0; round < 3; round++) {
        run_round(world, rank, size, 1000 + round, round, round % 2);
    }
    run_round(world, rank, size, 0, 9, 0); /* empty vectors */

    /* A sub-communicator of the even and the odd ranks. */
    MPI_Comm split;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &split);
    CHECK_OK(lp_comm_create(split, &half));
    int half_rank, half_size;
    lp_comm_rank(half, &half_rank);
    lp_comm_size(half, &half_size);
    int64_t mine = rank, total = 0, expected = 0;
    for (int r = rank % 2; r < size; r += 2) expected += r;
    CHECK_OK(lp_allreduce(&mine, &total, 1, LP_INT64, LP_SUM, half));
    CHECK(total == expected);
    CHECK_OK(lp_comm_destroy(half));
    MPI_Comm_free(&split);

    CHECK_OK(lp_comm_destroy(world));
    MPI_Finalize();
    return 0;
}
