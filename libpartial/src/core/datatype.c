/* Mapping of the library's datatypes and ops to MPI, and argument checks
 * shared by every reduction. */
#include "core/core.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int lp_datatype_is_valid(lp_datatype_t datatype)
{
    return (int)datatype >= 0 && datatype < LP_NUM_DATATYPES;
}

int lp_op_is_valid(lp_op_t op) { return (int)op >= 0 && op < LP_NUM_OPS; }

const char *const lp_datatype_names[LP_NUM_DATATYPES] = {
    [LP_INT32] = "int32", [LP_INT64] = "int64", [LP_FLOAT32] = "float32", [LP_FLOAT64] = "float64"};
const char *const lp_op_names[LP_NUM_OPS] = {[LP_SUM] = "sum", [LP_PROD] = "prod", [LP_MIN] = "min", [LP_MAX] = "max"};

int64_t lp_datatype_size(lp_datatype_t datatype)
{
    switch (datatype) {
    case LP_INT32: return 4;
    case LP_INT64: return 8;
    case LP_FLOAT32: return 4;
    case LP_FLOAT64: return 8;
    default: return 0;
    }
}

MPI_Datatype lp_mpi_datatype(lp_datatype_t datatype)
{
    switch (datatype) {
    case LP_INT32: return MPI_INT32_T;
    case LP_INT64: return MPI_INT64_T;
    case LP_FLOAT32: return MPI_FLOAT;
    case LP_FLOAT64: return MPI_DOUBLE;
    default: return MPI_DATATYPE_NULL;
    }
}

MPI_Op lp_mpi_op(lp_op_t op)
{
    switch (op) {
    case LP_SUM: return MPI_SUM;
    case LP_PROD: return MPI_PROD;
    case LP_MIN: return MPI_MIN;
    case LP_MAX: return MPI_MAX;
    default: return MPI_OP_NULL;
    }
}

static int64_t max_mpi_count = INT_MAX;
static pthread_once_t max_mpi_count_once = PTHREAD_ONCE_INIT;

static void read_max_mpi_count(void)
{
    const char *text = getenv("LP_MAX_MPI_COUNT");
    if (text == NULL) return;
    long long value = atoll(text);
    if (value > 0 && value < INT_MAX) max_mpi_count = value;
}

/* Read once: every chunked call asks, and getenv may race with a setenv on
 * another thread. */
int64_t lp_max_mpi_count(void)
{
    pthread_once(&max_mpi_count_once, read_max_mpi_count);
    return max_mpi_count;
}

lp_result_t lp_check_reduction_args(const void *sendbuf, const void *recvbuf,
                                    int64_t count, lp_datatype_t datatype,
                                    lp_op_t op)
{
    if (count < 0) return lp_fail(LP_ERR_INVALID_ARGUMENT, "count %lld is negative", (long long)count);
    if (!lp_datatype_is_valid(datatype))
        return lp_fail(LP_ERR_INVALID_TYPE, "datatype %d is not a libpartial datatype", (int)datatype);
    if (!lp_op_is_valid(op)) return lp_fail(LP_ERR_INVALID_ARGUMENT, "op %d is not a libpartial op", (int)op);
    if (count > 0 && (sendbuf == NULL || recvbuf == NULL))
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "buffer is NULL with count %lld", (long long)count);
    return LP_SUCCESS;
}

lp_result_t lp_reduce_local(const void *in, void *inout, int64_t count, lp_datatype_t datatype, lp_op_t op)
{
    const int64_t width = lp_datatype_size(datatype);
    for (struct lp_chunks c = lp_mpi_chunks(count); lp_chunks_next(&c);)
        LP_TRY_MPI(MPI_Reduce_local((const char *)in + c.offset * width, (char *)inout + c.offset * width, c.count,
                                    lp_mpi_datatype(datatype), lp_mpi_op(op)));
    return LP_SUCCESS;
}

int lp_find_name(const char *const *names, int nnames, const char *name)
{
    for (int i = 0; name != NULL && i < nnames; i++)
        if (names[i] != NULL && strcmp(name, names[i]) == 0) return i;
    return -1;
}

const char *lp_name_of(const char *const *names, int nnames, int value)
{
    return value >= 0 && value < nnames ? names[value] : NULL;
}

lp_result_t lp_value_of_name(const char *const *names, int nnames, const char *name, const char *what, int *value)
{
    if (name == NULL || value == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "name or output is NULL");
    *value = lp_find_name(names, nnames, name);
    if (*value >= 0) return LP_SUCCESS;
    char choices[256] = "";
    for (int i = 0; i < nnames; i++)
        if (names[i] != NULL)
            snprintf(choices + strlen(choices), sizeof choices - strlen(choices), "%s%s", *choices ? ", " : "",
                     names[i]);
    return lp_fail(LP_ERR_INVALID_ARGUMENT, "unknown %s '%s' (%s)", what, name, choices);
}

lp_result_t lp_env_choice(const char *variable, const char *const *names, int nnames, int *value)
{
    const char *name = getenv(variable);
    if (name == NULL || *name == '\0') return LP_SUCCESS;
    const int found = lp_find_name(names, nnames, name);
    if (found >= 0) {
        *value = found;
        return LP_SUCCESS;
    }
    /* "a, b or c" */
    char choices[256] = "";
    for (int i = 0; i < nnames; i++) {
        const char *separator = i == 0 ? "" : i == nnames - 1 ? " or " : ", ";
        snprintf(choices + strlen(choices), sizeof choices - strlen(choices), "%s%s", separator, names[i]);
    }
    return lp_fail(LP_ERR_INVALID_ARGUMENT, "%s=%s is not %s", variable, name, choices);
}
