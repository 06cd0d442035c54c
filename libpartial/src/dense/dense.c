/* Dense allreduce: MPI_Allreduce / MPI_Iallreduce on the private
 * communicator, in chunks of at most lp_max_mpi_count() elements. */
#include "core/core.h"

#include <stdlib.h>

/* Checks the arguments locally and agrees on them across ranks. */
static lp_result_t agree_on_dense_args(const void *sendbuf, const void *recvbuf, int64_t count,
                                       lp_datatype_t datatype, lp_op_t op, lp_comm_t comm)
{
    LP_TRY(lp_check_comm(comm));
    lp_result_t local = lp_check_reduction_args(sendbuf, recvbuf, count, datatype, op);
    static const struct lp_param described[] = {LP_PARAM_INT("count"), LP_PARAM_NAMED("dtype", lp_datatype_names),
                                                LP_PARAM_NAMED("op", lp_op_names)};
    const int64_t params[] = {count, (int64_t)datatype, (int64_t)op};
    return lp_comm_agree_max(comm, local, params, described, 3, NULL, 0);
}

/* Starts (or, with requests == NULL, runs) the allreduce chunk by chunk. */
static lp_result_t reduce_chunks(const void *sendbuf, void *recvbuf, int64_t count,
                                 lp_datatype_t datatype, lp_op_t op, lp_comm_t comm,
                                 MPI_Request *requests)
{
    const int64_t width = lp_datatype_size(datatype);
    const int in_place = sendbuf == recvbuf;
    for (struct lp_chunks c = lp_mpi_chunks(count); lp_chunks_next(&c);) {
        const void *src = in_place ? MPI_IN_PLACE : (const char *)sendbuf + c.offset * width;
        void *dst = (char *)recvbuf + c.offset * width;
        if (requests == NULL)
            LP_TRY_MPI(MPI_Allreduce(src, dst, c.count, lp_mpi_datatype(datatype), lp_mpi_op(op), comm->comm));
        else
            LP_TRY_MPI(MPI_Iallreduce(src, dst, c.count, lp_mpi_datatype(datatype), lp_mpi_op(op), comm->comm,
                                      &requests[c.index]));
    }
    return LP_SUCCESS;
}

lp_result_t lp_allreduce(const void *sendbuf, void *recvbuf, int64_t count, lp_datatype_t datatype,
                         lp_op_t op, lp_comm_t comm)
{
    LP_TRY(agree_on_dense_args(sendbuf, recvbuf, count, datatype, op, comm));
    return reduce_chunks(sendbuf, recvbuf, count, datatype, op, comm, NULL);
}

struct iallreduce_state {
    int64_t n;
    MPI_Request requests[];
};

static lp_result_t iallreduce_test(lp_request_t request, int *done)
{
    struct iallreduce_state *state = request->state;
    return lp_testall(state->requests, state->n, done);
}

static lp_result_t iallreduce_wait(lp_request_t request)
{
    struct iallreduce_state *state = request->state;
    return lp_waitall(state->requests, state->n);
}

static const struct lp_request_ops iallreduce_ops = {iallreduce_test, iallreduce_wait, free};

lp_result_t lp_iallreduce(const void *sendbuf, void *recvbuf, int64_t count, lp_datatype_t datatype,
                          lp_op_t op, lp_comm_t comm, lp_request_t *request)
{
    if (request == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "request pointer is NULL");
    *request = NULL;
    LP_TRY(agree_on_dense_args(sendbuf, recvbuf, count, datatype, op, comm));
    int64_t n = lp_mpi_chunk_count(count);
    struct iallreduce_state *state = malloc(sizeof *state + (size_t)n * sizeof(MPI_Request));
    if (state == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %lld requests", (long long)n);
    state->n = n;
    for (int64_t i = 0; i < n; i++) state->requests[i] = MPI_REQUEST_NULL;
    lp_result_t rc = reduce_chunks(sendbuf, recvbuf, count, datatype, op, comm, state->requests);
    if (rc == LP_SUCCESS) rc = lp_request_create(&iallreduce_ops, state, request);
    if (rc != LP_SUCCESS) {
        lp_waitall(state->requests, n); /* never leave a started request behind */
        free(state);
    }
    return rc;
}
