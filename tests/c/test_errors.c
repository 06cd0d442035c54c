/* Result strings, and error agreement: a failure or a mismatch on one rank
 * is returned on every rank, with no rank left waiting. */
#include "check.h"

#include <string.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    for (int code = 0; code < LP_NUM_RESULTS; code++)
        CHECK(strlen(lp_result_string((lp_result_t)code)) > 0);
    CHECK(strcmp(lp_result_string((lp_result_t)999), "unknown result code") == 0);

    const int64_t live = lp_comm_live_count();
    lp_comm_t comm;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &comm));
    CHECK(lp_comm_live_count() == live + 1);
    int rank, size;
    CHECK_OK(lp_comm_rank(comm, &rank));
    CHECK_OK(lp_comm_size(comm, &size));

    /* Everyone agrees. */
    int64_t same[2] = {42, -7};
    CHECK(lp_comm_agree(comm, LP_SUCCESS, same, 2) == LP_SUCCESS);

    /* The last rank fails locally: all ranks get its code. */
    lp_result_t local = rank == size - 1 ? LP_ERR_INVALID_TYPE : LP_SUCCESS;
    CHECK(lp_comm_agree(comm, local, same, 2) == LP_ERR_INVALID_TYPE);
    if (rank != size - 1) CHECK(strstr(lp_get_last_error(), "rank") != NULL);

    /* The last rank passes a different value: a mismatch everywhere, which
     * names the argument, its values and the lowest rank holding each. */
    int64_t differs[2] = {42, rank == size - 1 ? 8 : -7};
    CHECK(lp_comm_agree(comm, LP_SUCCESS, differs, 2) == (size > 1 ? LP_ERR_MISMATCH : LP_SUCCESS));
    if (size > 1) {
        char expected[128];
        snprintf(expected, sizeof expected, "argument 1 differs across ranks: -7 on rank 0, 8 on rank %d", size - 1);
        CHECK(strcmp(lp_get_last_error(), expected) == 0);
    }
    /* The extremes of int64 are values like any other. */
    int64_t extremes[2] = {INT64_MIN, INT64_MAX};
    CHECK_OK(lp_comm_agree(comm, LP_SUCCESS, extremes, 2));
    int64_t low[1] = {rank == 0 ? INT64_MIN : INT64_MIN + 1};
    CHECK(lp_comm_agree(comm, LP_SUCCESS, low, 1) == (size > 1 ? LP_ERR_MISMATCH : LP_SUCCESS));
    /* More parameters than the public limit fail on every rank. */
    int64_t many[LP_AGREE_MAX_PARAMS + 1] = {0};
    CHECK(lp_comm_agree(comm, LP_SUCCESS, many, rank == 0 ? LP_AGREE_MAX_PARAMS + 1 : 1) ==
          LP_ERR_INVALID_ARGUMENT);

    /* A dense allreduce with a count that differs on one rank. */
    int64_t buf[4] = {1, 2, 3, 4};
    int64_t count = rank == 0 && size > 1 ? 3 : 4;
    CHECK(lp_allreduce(buf, buf, count, LP_INT64, LP_SUM, comm) == (size > 1 ? LP_ERR_MISMATCH : LP_SUCCESS));
    /* An invalid datatype on one rank. */
    lp_datatype_t type = rank == 0 ? (lp_datatype_t)77 : LP_INT64;
    CHECK(lp_allreduce(buf, buf, 4, type, LP_SUM, comm) == LP_ERR_INVALID_TYPE);
    /* A NULL buffer on one rank, through the nonblocking call. */
    lp_request_t request = NULL;
    const void *send = rank == size - 1 ? NULL : buf;
    CHECK(lp_iallreduce(send, buf, 4, LP_INT64, LP_SUM, comm, &request) == LP_ERR_INVALID_ARGUMENT);
    CHECK(request == NULL);

    /* The communicator still works after all of that. */
    int64_t one = 1, total = 0;
    CHECK_OK(lp_allreduce(&one, &total, 1, LP_INT64, LP_SUM, comm));
    CHECK(total == size);

    CHECK_OK(lp_comm_destroy(comm));
    CHECK(lp_comm_live_count() == live);
    MPI_Finalize();
    return 0;
}
