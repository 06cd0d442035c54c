/* Result codes, their messages, and the per-thread failure detail. */
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

static const char *const result_messages[LP_NUM_RESULTS] = {
    [LP_SUCCESS] = "success",
    [LP_ERR_INVALID_ARGUMENT] = "invalid argument",
    [LP_ERR_INVALID_TYPE] = "invalid datatype",
    [LP_ERR_MISMATCH] = "arguments differ across ranks",
    [LP_ERR_INDEX_OUT_OF_RANGE] = "index out of range",
    [LP_ERR_NO_MEMORY] = "out of memory",
    [LP_ERR_TIMEOUT] = "timed out",
    [LP_ERR_CLOSED] = "object is closed",
    [LP_ERR_MPI] = "MPI error",
    [LP_ERR_UNSUPPORTED] = "unsupported",
    [LP_ERR_INTERNAL] = "internal error",
};

const char *lp_result_string(lp_result_t result)
{
    if ((int)result < 0 || result >= LP_NUM_RESULTS) return "unknown result code";
    return result_messages[result];
}

const char *lp_get_last_error(void) { return last_error; }

lp_result_t lp_fail(lp_result_t code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    return code;
}

lp_result_t lp_fail_more(lp_result_t code, const char *fmt, ...)
{
    /* The earlier detail is already in place: append to it. */
    size_t used = strlen(last_error);
    if (used + 2 >= sizeof last_error) return code;
    memcpy(last_error + used, "; ", 3);
    used += 2;
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error + used, sizeof last_error - used, fmt, args);
    va_end(args);
    return code;
}

lp_result_t lp_check_mpi(int mpi_rc, const char *what)
{
    if (mpi_rc == MPI_SUCCESS) return LP_SUCCESS;
    char message[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(mpi_rc, message, &length) != MPI_SUCCESS) length = 0;
    message[length] = '\0';
    return lp_fail(LP_ERR_MPI, "%s failed: %s", what, message);
}
