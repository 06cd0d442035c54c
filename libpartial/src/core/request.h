/* The one request type behind every nonblocking call (request.c). */
#ifndef LP_CORE_REQUEST_H
#define LP_CORE_REQUEST_H

#include "libpartial.h"
#include <stdint.h>

struct lp_request_ops {
    /* Advance; set *done when complete. Required. */
    lp_result_t (*test)(lp_request_t request, int *done);
    /* Block until complete; NULL means loop on test. */
    lp_result_t (*wait)(lp_request_t request);
    /* Free state; called once, after completion. */
    void (*release)(void *state);
};

struct lp_request_s {
    const struct lp_request_ops *ops;
    void *state;
    int done;
    lp_result_t result;
};

lp_result_t lp_request_create(const struct lp_request_ops *ops, void *state,
                              lp_request_t *out);

/* Waits on MPI requests in fixed-size arrays, as MPI counts are int. */
lp_result_t lp_waitall(MPI_Request *requests, int64_t n);
lp_result_t lp_testall(MPI_Request *requests, int64_t n, int *done);

#endif /* LP_CORE_REQUEST_H */
