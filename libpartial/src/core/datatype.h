/* The library's datatypes and ops in MPI terms, and argument checks (datatype.c). */
#ifndef LP_CORE_DATATYPE_H
#define LP_CORE_DATATYPE_H

#include "libpartial.h"
#include <stdint.h>

int lp_datatype_is_valid(lp_datatype_t datatype);
int lp_op_is_valid(lp_op_t op);
/* NumPy's names ("float32"), and "sum", "prod", "min", "max": for messages. */
extern const char *const lp_datatype_names[LP_NUM_DATATYPES];
extern const char *const lp_op_names[LP_NUM_OPS];
/* The index of name in names[0..nnames), or -1: the lookups behind the
 * *_from_name functions. */
int lp_find_name(const char *const *names, int nnames, const char *name);
/* names[value], or NULL outside 0..nnames-1: the *_name functions. */
const char *lp_name_of(const char *const *names, int nnames, int value);
/* The index of name in *value; else LP_ERR_INVALID_ARGUMENT naming what
 * and the choices: the *_from_name functions. */
lp_result_t lp_value_of_name(const char *const *names, int nnames, const char *name, const char *what, int *value);
/* The name that environment variable gives, for a parameter left to auto:
 * *value becomes its index in names, and stays as it is when the variable
 * is unset or empty; a name not in names fails with one that lists them. */
lp_result_t lp_env_choice(const char *variable, const char *const *names, int nnames, int *value);
/* Defines a public enum's name and from_name pair on its table of names. */
#define LP_DEFINE_NAME_LOOKUP(name_function, from_name_function, type, names, nnames, what)                \
    const char *name_function(type value) { return lp_name_of(names, nnames, (int)value); }                 \
    lp_result_t from_name_function(const char *name, type *value)                                          \
    {                                                                                                       \
        int found = 0;                                                                                      \
        LP_TRY(lp_value_of_name(names, nnames, name, what, value != NULL ? &found : NULL));                 \
        *value = (type)found;                                                                               \
        return LP_SUCCESS;                                                                                  \
    }
MPI_Datatype lp_mpi_datatype(lp_datatype_t datatype);
MPI_Op lp_mpi_op(lp_op_t op);
/* Largest element count handed to one MPI call: INT_MAX, or smaller when
 * LP_MAX_MPI_COUNT is set (a testing aid for the chunking paths), as it was
 * at the first call that needed it. */
int64_t lp_max_mpi_count(void);
/* inout = in op inout, elementwise over count elements (MPI_Reduce_local in
 * chunks of lp_max_mpi_count()). */
lp_result_t lp_reduce_local(const void *in, void *inout, int64_t count, lp_datatype_t datatype, lp_op_t op);
/* Validates (datatype, op) for a reduction; LP_SUCCESS or a failure. */
lp_result_t lp_check_reduction_args(const void *sendbuf, const void *recvbuf,
                                    int64_t count, lp_datatype_t datatype,
                                    lp_op_t op);

#endif /* LP_CORE_DATATYPE_H */
