/* LP_MAX_MPI_COUNT is read once, before the first call that needs it:
 * changing it afterwards must not change how calls are chunked, since the
 * chunk size is on the hot path and getenv is neither cheap nor safe
 * against a concurrent setenv. The chunks are counted through the MPI
 * profiling interface: a dense allreduce of count elements makes one
 * MPI_Allreduce for its agreement and one per chunk. ctest sets the
 * variable to 7. */
#include "check.h"

#include <stdlib.h>

static int64_t allreduce_calls = 0;

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                  MPI_Comm comm)
{
    allreduce_calls++;
    return PMPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm);
}

/* MPI_Allreduce calls made by one lp_allreduce of count elements; checks its sum. */
static int64_t calls_for(lp_comm_t comm, int64_t count, int size)
{
    int64_t *buf = malloc((size_t)count * sizeof *buf);
    CHECK(buf != NULL);
    for (int64_t i = 0; i < count; i++) buf[i] = i;
    const int64_t before = allreduce_calls;
    CHECK_OK(lp_allreduce(buf, buf, count, LP_INT64, LP_SUM, comm));
    const int64_t calls = allreduce_calls - before;
    for (int64_t i = 0; i < count; i++) CHECK(buf[i] == i * size);
    free(buf);
    return calls;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    const char *limit = getenv("LP_MAX_MPI_COUNT");
    CHECK(limit != NULL && atoll(limit) == 7);
    lp_comm_t comm;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &comm));
    int size;
    CHECK_OK(lp_comm_size(comm, &size));

    CHECK(calls_for(comm, 20, size) == 1 + 3);
    CHECK(calls_for(comm, 21, size) == 1 + 3);
    CHECK(calls_for(comm, 22, size) == 1 + 4);
    /* Every rank changes it the same way, so that a library that read it
     * again would still agree with itself, and only the count would tell. */
    CHECK(setenv("LP_MAX_MPI_COUNT", "5", 1) == 0);
    CHECK(calls_for(comm, 20, size) == 1 + 3);
    CHECK(unsetenv("LP_MAX_MPI_COUNT") == 0);
    CHECK(calls_for(comm, 20, size) == 1 + 3);

    CHECK_OK(lp_comm_destroy(comm));
    MPI_Finalize();
    return 0;
}
