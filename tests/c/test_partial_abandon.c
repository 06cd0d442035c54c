/* A peer that gives up on a partial allreduce: the last rank closes while
 * the others are busy, so its close times out and releases its object
 * alone. The others' next round then fires (solo) but cannot be reduced
 * without the last rank's thread: the call times out, and so does close,
 * which must abandon the reduction in flight and return within its
 * timeout rather than wait for it. Every rank checks its codes and times;
 * under AddressSanitizer this exercises the abandon path's cleanup. */
#include "check.h"

#include <time.h>
#include <unistd.h>

enum { COUNT = 64 };
static const double TIMEOUT = 0.3, MARGIN = 3.0;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void expect_timeout(lp_result_t rc, double started, const char *what)
{
    const double elapsed = now() - started;
    if (rc != LP_ERR_TIMEOUT || elapsed > TIMEOUT + MARGIN) {
        fprintf(stderr, "%s: %s after %.2f s (%s)\n", what, lp_result_string(rc), elapsed, lp_get_last_error());
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int rank, size;
    lp_comm_t comm = test_init_world(&argc, &argv, &rank, &size);
    lp_partial_t partial;
    CHECK_OK(lp_partial_create(COUNT, LP_INT64, LP_SUM, LP_PARTIAL_SYNC, 0, -1, TIMEOUT, comm, &partial));
    int64_t send[COUNT], recv[COUNT];
    for (int i = 0; i < COUNT; i++) send[i] = rank + 1;
    CHECK_OK(lp_partial_allreduce(partial, send, recv, NULL));
    CHECK(recv[0] == (int64_t)size * (size + 1) / 2);
    CHECK_OK(lp_partial_destroy(partial));

    CHECK_OK(lp_partial_create(COUNT, LP_INT64, LP_SUM, LP_PARTIAL_SOLO, 0, -1, TIMEOUT, comm, &partial));
    if (size == 1) {
        CHECK_OK(lp_partial_allreduce(partial, send, recv, NULL));
        CHECK_OK(lp_partial_destroy(partial));
    } else if (rank == size - 1) {
        double started = now();
        expect_timeout(lp_partial_destroy(partial), started, "close of the rank that leaves");
    } else {
        usleep(1000000); /* the last rank has given up by now */
        double started = now();
        expect_timeout(lp_partial_allreduce(partial, send, recv, NULL), started, "round without the last rank");
        started = now();
        expect_timeout(lp_partial_destroy(partial), started, "close with a round in flight");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK_OK(lp_comm_destroy(comm));
    MPI_Finalize();
    return 0;
}
