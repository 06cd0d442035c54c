/* The one request type behind every nonblocking call. */
#include "core/core.h"

#include <limits.h>
#include <stdlib.h>

lp_result_t lp_request_create(const struct lp_request_ops *ops, void *state, lp_request_t *out)
{
    struct lp_request_s *request = calloc(1, sizeof *request);
    if (request == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a request");
    request->ops = ops;
    request->state = state;
    *out = request;
    return LP_SUCCESS;
}

static void complete(lp_request_t request, lp_result_t result)
{
    request->done = 1;
    request->result = result;
    request->ops->release(request->state);
    request->state = NULL;
}

lp_result_t lp_request_test(lp_request_t request, int *done)
{
    if (request == NULL || done == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "request or flag is NULL");
    if (!request->done) {
        int finished = 0;
        lp_result_t rc = request->ops->test(request, &finished);
        if (rc != LP_SUCCESS || finished) complete(request, rc);
    }
    *done = request->done;
    return request->done ? request->result : LP_SUCCESS;
}

lp_result_t lp_request_wait(lp_request_t request)
{
    if (request == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "request is NULL");
    if (!request->done) {
        if (request->ops->wait != NULL) {
            complete(request, request->ops->wait(request));
        } else {
            int finished = 0;
            while (!request->done) lp_request_test(request, &finished);
        }
    }
    lp_result_t result = request->result;
    free(request);
    return result;
}

lp_result_t lp_waitall(MPI_Request *requests, int64_t n)
{
    for (struct lp_chunks c = lp_chunks(n, INT_MAX); lp_chunks_next(&c);)
        LP_TRY_MPI(MPI_Waitall(c.count, requests + c.offset, MPI_STATUSES_IGNORE));
    return LP_SUCCESS;
}

lp_result_t lp_testall(MPI_Request *requests, int64_t n, int *done)
{
    *done = 1;
    for (struct lp_chunks c = lp_chunks(n, INT_MAX); lp_chunks_next(&c);) {
        int flag = 0;
        LP_TRY_MPI(MPI_Testall(c.count, requests + c.offset, &flag, MPI_STATUSES_IGNORE));
        if (!flag) *done = 0;
    }
    return LP_SUCCESS;
}
