/* Declarations shared by the core's source files; not installed. */
#ifndef LP_INTERNAL_H
#define LP_INTERNAL_H

#include "libpartial.h"

#include <stddef.h>
#include <stdint.h>

/* ---- error.c ---- */

/* Records a formatted detail for lp_get_last_error() and returns code. */
lp_result_t lp_fail(lp_result_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Maps an MPI return code to LP_ERR_MPI with MPI's own message. */
lp_result_t lp_check_mpi(int mpi_rc, const char *what);

#define LP_TRY(expr)                                                       \
    do {                                                                   \
        lp_result_t lp_try_rc_ = (expr);                                   \
        if (lp_try_rc_ != LP_SUCCESS) return lp_try_rc_;                   \
    } while (0)
#define LP_TRY_MPI(call) LP_TRY(lp_check_mpi((call), #call))

/* ---- datatype.c ---- */

int lp_datatype_is_valid(lp_datatype_t datatype);
int lp_op_is_valid(lp_op_t op);
MPI_Datatype lp_mpi_datatype(lp_datatype_t datatype);
MPI_Op lp_mpi_op(lp_op_t op);
/* Largest element count handed to one MPI call: INT_MAX, or smaller when
 * LP_MAX_MPI_COUNT is set (a testing aid for the chunking paths). */
int64_t lp_max_mpi_count(void);
/* Validates (datatype, op) for a reduction; LP_SUCCESS or a failure. */
lp_result_t lp_check_reduction_args(const void *sendbuf, const void *recvbuf,
                                    int64_t count, lp_datatype_t datatype,
                                    lp_op_t op);

/* ---- comm.c ---- */

struct lp_comm_s {
    MPI_Comm comm;          /* the private duplicate */
    int rank;
    int size;
    int released;           /* MPI resources gone (destroyed, or MPI finalized) */
    uint32_t op_sequence;   /* advances once per collective call, same on all ranks */
    struct lp_comm_s *prev; /* registry of live communicators */
    struct lp_comm_s *next;
};

/* A tag block unique to this collective call among those in flight on the
 * communicator: each call owns LP_TAGS_PER_OP consecutive tags. */
#define LP_TAGS_PER_OP 16
int lp_comm_next_tag_base(lp_comm_t comm);
lp_result_t lp_check_comm(lp_comm_t comm);

/* ---- request.c ---- */

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

#endif /* LP_INTERNAL_H */
