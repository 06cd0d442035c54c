/* Failure details and the early-return macros (error.c). */
#ifndef LP_CORE_ERROR_H
#define LP_CORE_ERROR_H

#include "libpartial.h"

/* Records a formatted detail for lp_get_last_error() and returns code. */
lp_result_t lp_fail(lp_result_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Passes a failure on with more said about it: the detail becomes the one
 * recorded last (on this thread), "; ", and the formatted addition. */
lp_result_t lp_fail_more(lp_result_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Maps an MPI return code to LP_ERR_MPI with MPI's own message. */
lp_result_t lp_check_mpi(int mpi_rc, const char *what);

#define LP_TRY(expr)                                                       \
    do {                                                                   \
        lp_result_t lp_try_rc_ = (expr);                                   \
        if (lp_try_rc_ != LP_SUCCESS) return lp_try_rc_;                   \
    } while (0)
#define LP_TRY_MPI(call) LP_TRY(lp_check_mpi((call), #call))

#endif /* LP_CORE_ERROR_H */
