/* lp_partial_release_all, the exit path before MPI_Finalize: every object
 * not yet destroyed, one of them with a round that only rank 0 started,
 * stops its thread and frees its MPI resources on this rank alone; later
 * calls and the outstanding request end with LP_ERR_CLOSED, destroy only
 * frees memory, a second release is harmless, and an object created
 * afterwards works. Where the MPI stays thread-safe through MPI_Finalize
 * (Open MPI), one idle object is left for MPI_Finalize's own release. */
#include "check.h"

#include <dirent.h>
#include <unistd.h>

enum { COUNT = 16, ROUNDS = 4 };

/* This process's threads: what the released objects' threads leave. */
static int thread_count(void)
{
    DIR *tasks = opendir("/proc/self/task");
    CHECK(tasks != NULL);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(tasks)) != NULL;)
        count += entry->d_name[0] != '.';
    closedir(tasks);
    return count;
}

/* A thread just joined may stay listed for a moment (the kernel wakes
 * pthread_join before it removes the task); one left behind stays. */
static int threads_settled(int expected)
{
    for (int tries = 0; tries < 200 && thread_count() > expected; tries++) usleep(10000);
    return thread_count();
}

static int64_t rank_sum(int size) { return (int64_t)size * (size + 1) / 2; }

int main(int argc, char **argv)
{
    int rank, size;
    lp_comm_t comm = test_init_world(&argc, &argv, &rank, &size);
    const int threads_before = thread_count();

    int64_t send[COUNT], recv[COUNT], started_recv[COUNT];
    for (int i = 0; i < COUNT; i++) send[i] = rank + 1;
    lp_partial_t solo, sync;
    CHECK_OK(lp_partial_create(COUNT, LP_INT64, LP_SUM, LP_PARTIAL_SOLO, 0, -1, 30.0, comm, &solo));
    CHECK_OK(lp_partial_create(COUNT, LP_INT64, LP_SUM, LP_PARTIAL_SYNC, 0, -1, 30.0, comm, &sync));
    int64_t total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        CHECK_OK(lp_partial_allreduce(solo, send, recv, NULL));
        total += recv[0];
    }
    CHECK_OK(lp_partial_flush(solo, recv, NULL));
    total += recv[0];
    CHECK(total == ROUNDS * rank_sum(size)); /* every contribution, once */
    lp_request_t started = NULL;
    if (rank == 0 && size > 1) CHECK_OK(lp_partial_start(sync, send, started_recv, NULL, &started));
    MPI_Barrier(MPI_COMM_WORLD);

    CHECK_OK(lp_partial_release_all());
    CHECK(threads_settled(threads_before) == threads_before);
    if (started != NULL) CHECK(lp_request_wait(started) == LP_ERR_CLOSED);
    CHECK(lp_partial_allreduce(solo, send, recv, NULL) == LP_ERR_CLOSED);
    CHECK(lp_partial_allreduce(sync, send, recv, NULL) == LP_ERR_CLOSED);
    CHECK_OK(lp_partial_release_all());
    CHECK_OK(lp_partial_destroy(solo));
    CHECK_OK(lp_partial_destroy(sync));

    lp_partial_t after;
    CHECK_OK(lp_partial_create(COUNT, LP_INT64, LP_SUM, LP_PARTIAL_SYNC, 0, -1, 30.0, comm, &after));
    CHECK_OK(lp_partial_allreduce(after, send, recv, NULL));
    for (int i = 0; i < COUNT; i++) CHECK(recv[i] == rank_sum(size));
#ifndef OPEN_MPI
    CHECK_OK(lp_partial_destroy(after));
#endif
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK_OK(lp_comm_destroy(comm));
    MPI_Finalize();
#ifdef OPEN_MPI
    CHECK(threads_settled(threads_before) <= threads_before); /* MPI_Finalize released it */
    CHECK_OK(lp_partial_destroy(after));     /* now only its memory */
#endif
    return 0;
}
