/*
 * libpartial: partial and sparse allreduce collectives over MPI.
 *
 * One public header. Signatures follow MPI's argument order
 * (sendbuf, recvbuf, count, datatype, op, comm). Every function returns an
 * lp_result_t; lp_result_string() turns a code into a message and
 * lp_get_last_error() gives the detail of the most recent failure on the
 * calling thread.
 *
 * Collective calls agree on errors: when any rank passes a bad argument,
 * every rank returns the same non-success code, and none is left waiting.
 */
#ifndef LIBPARTIAL_H
#define LIBPARTIAL_H

#include <mpi.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LP_VERSION_MAJOR 0
#define LP_VERSION_MINOR 1
#define LP_VERSION_PATCH 0

typedef enum {
    LP_SUCCESS = 0,
    LP_ERR_INVALID_ARGUMENT = 1, /* a bad value: negative count, NULL buffer, unknown name */
    LP_ERR_INVALID_TYPE = 2,     /* an unsupported or inconsistent datatype */
    LP_ERR_MISMATCH = 3,         /* ranks passed different count, size, datatype or mode */
    LP_ERR_INDEX_OUT_OF_RANGE = 4,
    LP_ERR_NO_MEMORY = 5,
    LP_ERR_TIMEOUT = 6,
    LP_ERR_CLOSED = 7,           /* the object was closed or its communicator freed */
    LP_ERR_MPI = 8,              /* the MPI library returned an error */
    LP_ERR_UNSUPPORTED = 9,
    LP_ERR_INTERNAL = 10,
    LP_NUM_RESULTS
} lp_result_t;

typedef enum {
    LP_INT32 = 0,
    LP_INT64 = 1,
    LP_FLOAT32 = 2,
    LP_FLOAT64 = 3,
    LP_NUM_DATATYPES
} lp_datatype_t;

typedef enum {
    LP_SUM = 0,
    LP_PROD = 1,
    LP_MIN = 2,
    LP_MAX = 3,
    LP_NUM_OPS
} lp_op_t;

/* A library communicator: a private duplicate of the user's communicator,
 * so that library traffic never matches the user's messages. */
typedef struct lp_comm_s *lp_comm_t;

/* A nonblocking operation in flight. */
typedef struct lp_request_s *lp_request_t;

/* ---- errors ------------------------------------------------------------ */

const char *lp_result_string(lp_result_t result);
/* Detail of the last failure on this thread (which rank, which argument). */
const char *lp_get_last_error(void);

/* ---- library and MPI identity ----------------------------------------- */

void lp_get_version(int *major, int *minor, int *patch);
/* MPI_Get_library_version of the MPI this library was linked against.
 * buf must hold MPI_MAX_LIBRARY_VERSION_STRING characters. */
lp_result_t lp_mpi_library_version(char *buf, int buflen);
/* Size in bytes of one element of datatype, or 0 if it is not valid. */
int64_t lp_datatype_size(lp_datatype_t datatype);
/* How this library was built, as space-separated key=value words:
 * build_type, sanitize (on|off), benchmarks (on|off: the C benchmarks were
 * built alongside) and benchmarks_cuda (on|off: they accept -d cuda). */
const char *lp_build_options(void);

/* ---- CUDA-aware MPI ---------------------------------------------------- */

typedef enum {
    LP_CUDA_SOURCE_NONE = 0,        /* no query in this MPI: taken as not CUDA-aware */
    LP_CUDA_SOURCE_OPENMPI = 1,     /* MPIX_Query_cuda_support() */
    LP_CUDA_SOURCE_MPICH = 2,       /* MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA, ...) */
    LP_CUDA_SOURCE_ENVIRONMENT = 3  /* LP_CUDA_AWARE=0|1 overrides the query */
} lp_cuda_source_t;

/* Whether MPI can be given CUDA device pointers, and what said so. Needs MPI initialized. */
lp_result_t lp_query_cuda_support(int *cuda_aware, lp_cuda_source_t *source);
/* "none", "openmpi", "mpich", "environment"; NULL for a value outside the enum. */
const char *lp_cuda_source_name(lp_cuda_source_t source);

/* ---- communicators ----------------------------------------------------- */

/* Collective over comm: duplicates it. */
lp_result_t lp_comm_create(MPI_Comm comm, lp_comm_t *out);
/* Collective: frees the duplicate. Safe after MPI_Finalize has run. */
lp_result_t lp_comm_destroy(lp_comm_t comm);
lp_result_t lp_comm_rank(lp_comm_t comm, int *rank);
lp_result_t lp_comm_size(lp_comm_t comm, int *size);
/* Library communicators created in this process and not yet destroyed: a
 * leak check (partial4py destroys its own when the mpi4py communicator is
 * freed). */
int64_t lp_comm_live_count(void);

/* Collective error agreement. Each rank passes its local result and up to
 * LP_AGREE_MAX_PARAMS values that must be equal on every rank. Returns the
 * agreed result: the local failure if any rank had one (with the lowest
 * failing rank in lp_get_last_error), LP_ERR_MISMATCH when the values
 * differ, else LP_SUCCESS. A rank that fails before it can even read its
 * arguments calls this with its code so that its peers do not hang. */
#define LP_AGREE_MAX_PARAMS 8
lp_result_t lp_comm_agree(lp_comm_t comm, lp_result_t local,
                          const int64_t *params, int nparams);

/* ---- requests ---------------------------------------------------------- */

/* Completes the request and frees it. */
lp_result_t lp_request_wait(lp_request_t request);
/* Advances the request; sets *done to 1 when it has completed. A completed
 * request must still be released with lp_request_wait (which then returns
 * at once) or lp_request_free. */
lp_result_t lp_request_test(lp_request_t request, int *done);
/* Waits for completion if needed, then frees. */
lp_result_t lp_request_free(lp_request_t request);

/* ---- dense allreduce (the baseline, MPI_Allreduce underneath) ---------- */

/* sendbuf == recvbuf reduces in place. count may exceed INT_MAX. */
lp_result_t lp_allreduce(const void *sendbuf, void *recvbuf, int64_t count,
                         lp_datatype_t datatype, lp_op_t op, lp_comm_t comm);
lp_result_t lp_iallreduce(const void *sendbuf, void *recvbuf, int64_t count,
                          lp_datatype_t datatype, lp_op_t op, lp_comm_t comm,
                          lp_request_t *request);

/* ---- sparse allreduce (SparCML-style) --------------------------------- */

/* How the sum is computed; every algorithm gives the same result, bit for
 * bit on every rank. LP_SPARSE_AUTO picks one with an alpha-beta cost model
 * (constants from the JSON file named by LP_SPARSE_COST_MODEL, if set). The
 * model is agreed like the other arguments: auto fails with LP_ERR_MISMATCH
 * where ranks' models differ, and with LP_ERR_INVALID_ARGUMENT on every rank
 * where some rank's file cannot be read or parsed. */
typedef enum {
    LP_SPARSE_AUTO = 0,
    LP_SPARSE_RECURSIVE_DOUBLING = 1, /* pairwise exchanges; extra ranks folded in and out */
    LP_SPARSE_SPLIT_ALLGATHER = 2,    /* sparse reduce-scatter by index range, sparse allgather */
    LP_SPARSE_DSAR = 3,               /* as split_allgather; ranges past the threshold go dense */
    LP_SPARSE_ALLGATHER = 4,          /* gather every pair, reduce locally */
    LP_SPARSE_DENSE = 5,              /* densify, then MPI_Allreduce */
    LP_SPARSE_NUM_ALGORITHMS
} lp_sparse_algorithm_t;

/* The sum: sorted unique indices with their values, or a dense array. */
typedef struct lp_sparse_result_s *lp_sparse_result_t;

/* "auto", "recursive_doubling", "split_allgather", "dsar", "allgather",
 * "dense"; NULL for a value outside the enum. */
const char *lp_sparse_algorithm_name(lp_sparse_algorithm_t algorithm);
lp_result_t lp_sparse_algorithm_from_name(const char *name, lp_sparse_algorithm_t *algorithm);

/* Sums the sparse vectors (indices[i], values[i]), i < nnz, of every rank.
 * indices are LP_INT32 or LP_INT64, unsorted and repeated ones allowed, each
 * in [0, size); size, datatypes, algorithm and density_threshold must be
 * equal on every rank. density_threshold is the fraction of an index range
 * (dsar) or of size (dense) above which the result is kept dense; 0 selects
 * the default, the density where the sparse encoding stops being smaller.
 * The input buffers may be reused as soon as the call returns. *result is
 * freed with lp_sparse_result_free. */
lp_result_t lp_sparse_allreduce(const void *indices, lp_datatype_t index_type, const void *values,
                                lp_datatype_t datatype, int64_t nnz, int64_t size,
                                lp_sparse_algorithm_t algorithm, double density_threshold,
                                lp_comm_t comm, lp_sparse_result_t *result);
/* Nonblocking: *result is filled in when the request completes (and must be
 * freed even if the request fails). */
lp_result_t lp_isparse_allreduce(const void *indices, lp_datatype_t index_type, const void *values,
                                 lp_datatype_t datatype, int64_t nnz, int64_t size,
                                 lp_sparse_algorithm_t algorithm, double density_threshold,
                                 lp_comm_t comm, lp_sparse_result_t *result, lp_request_t *request);

int lp_sparse_result_is_dense(lp_sparse_result_t result);
/* Stored entries: the number of indices, or size when the result is dense. */
int64_t lp_sparse_result_nnz(lp_sparse_result_t result);
int64_t lp_sparse_result_size(lp_sparse_result_t result);
lp_datatype_t lp_sparse_result_datatype(lp_sparse_result_t result);
lp_sparse_algorithm_t lp_sparse_result_algorithm(lp_sparse_result_t result);
/* Sorted unique indices (NULL when dense); values: nnz elements. Owned by the result. */
const int64_t *lp_sparse_result_indices(lp_sparse_result_t result);
const void *lp_sparse_result_values(lp_sparse_result_t result);
/* Writes all size elements into dense. */
lp_result_t lp_sparse_result_to_dense(lp_sparse_result_t result, void *dense);
void lp_sparse_result_free(lp_sparse_result_t result);

/* The cost model: predicted seconds of an algorithm for nnz entries per
 * rank (the densest rank) on nprocs ranks, and the algorithm auto picks.
 * Where LP_SPARSE_COST_MODEL's file cannot be used they return NaN and
 * LP_SPARSE_AUTO, and lp_get_last_error() says why. */
double lp_sparse_predict_seconds(lp_sparse_algorithm_t algorithm, int64_t size, int64_t nnz, int nprocs,
                                 lp_datatype_t datatype, double density_threshold);
lp_sparse_algorithm_t lp_sparse_select_algorithm(int64_t size, int64_t nnz, int nprocs,
                                                 lp_datatype_t datatype, double density_threshold);
/* The model's constants: seconds per message (alpha), per byte sent (beta),
 * per sparse entry sorted or merged (gamma) and per dense byte touched
 * (delta). They start as the built-in defaults, or as LP_SPARSE_COST_MODEL's
 * file says: a JSON object giving some of them, each a finite number >= 0
 * (the others keep their defaults). Getting them fails with
 * LP_ERR_INVALID_ARGUMENT when that file cannot be read or is not such an
 * object; setting them replaces the file, and its failure. Set them before
 * auto calls run on other threads, and to the same values on every rank. */
lp_result_t lp_sparse_get_cost_model(double *alpha, double *beta, double *gamma, double *delta);
lp_result_t lp_sparse_set_cost_model(double alpha, double beta, double gamma, double delta);
/* Times this machine's local work, for the calibration command: seconds per
 * sparse entry merged, and per byte of dense memory written and read. */
lp_result_t lp_sparse_measure_local_costs(double *seconds_per_entry, double *seconds_per_dense_byte);

/* ---- partial allreduce (solo / majority / sync / quorum k) -------------
 *
 * A persistent object, created collectively. Each rank calls it at its own
 * pace; its k-th call belongs to round k. Round k fires once its quorum of
 * ranks has arrived at round k; its result is the op over every
 * contribution pending at that moment, on every rank. A contribution that
 * arrives after its round fired stays pending and goes, whole, into the
 * next round that fires. A progress thread per object (MPI_THREAD_MULTIPLE
 * required) runs the protocol and the reductions, so rounds complete while
 * the user thread computes. See docs/partial.md. */

typedef enum {
    LP_PARTIAL_SOLO = 0,     /* quorum 1: the first rank to arrive fires the round */
    LP_PARTIAL_MAJORITY = 1, /* quorum ceil(P/2), counted exactly */
    LP_PARTIAL_SYNC = 2,     /* quorum P */
    LP_PARTIAL_QUORUM = 3,   /* quorum given explicitly, 1..P */
    LP_PARTIAL_NUM_MODES
} lp_partial_mode_t;

#define LP_PARTIAL_DEFAULT_MAX_STALENESS 8

typedef struct lp_partial_s *lp_partial_t;

/* The metadata of one round, identical on every rank. */
typedef struct {
    int64_t round;         /* round number; the flush round has its own number */
    int64_t contributions; /* calls whose buffers were summed into this result; 0 when
                              nothing was pending (the result is the op's identity) */
    int64_t fresh;         /* ranks whose own call for this round is among them */
    int64_t quorum_met;    /* 0 only for rounds a flush forced before their quorum */
    int64_t late;          /* this rank only: 1 if its call came after the round fired */
} lp_partial_info_t;

/* Collective over comm. quorum is read only in LP_PARTIAL_QUORUM mode.
 * max_staleness >= 0 (or -1 for the default) bounds how many rounds a rank
 * may run ahead of the slowest one. timeout_seconds <= 0 means no timeout;
 * it is local to the rank and applies to every blocking wait. count,
 * datatype, op, mode, quorum and max_staleness must match on every rank. */
lp_result_t lp_partial_create(int64_t count, lp_datatype_t datatype, lp_op_t op,
                              lp_partial_mode_t mode, int quorum, int max_staleness,
                              double timeout_seconds, lp_comm_t comm, lp_partial_t *out);
/* One call: adds sendbuf to this rank's pending contribution, then waits for
 * the round's result. sendbuf may equal recvbuf. info may be NULL. */
lp_result_t lp_partial_allreduce(lp_partial_t partial, const void *sendbuf, void *recvbuf,
                                 lp_partial_info_t *info);
/* Nonblocking call. sendbuf is consumed before this returns; recvbuf and
 * info (may be NULL) are written when the request completes. */
lp_result_t lp_partial_start(lp_partial_t partial, const void *sendbuf, void *recvbuf,
                             lp_partial_info_t *info, lp_request_t *request);
/* Detaches a request from its round without waiting: it completes at once
 * with LP_ERR_CLOSED and its recvbuf is never written. The call still
 * counts and its contribution stays pending. For finalizers at exit. */
lp_result_t lp_partial_request_detach(lp_request_t request);
/* Collective: fires every round some rank has arrived at, then a synchronous
 * round that drains all pending contributions into recvbuf. Afterwards every
 * rank's next call belongs to the same round. */
lp_result_t lp_partial_flush(lp_partial_t partial, void *recvbuf, lp_partial_info_t *info);
/* Reports a call-time error found outside the C core (e.g. a bad buffer in
 * Python): the object fails on every rank with this code. Returns code. */
lp_result_t lp_partial_report_error(lp_partial_t partial, lp_result_t code);
/* Collective: stops the progress thread and frees everything. Pending
 * contributions that were not flushed are dropped. */
lp_result_t lp_partial_destroy(lp_partial_t partial);
lp_result_t lp_partial_quorum(lp_partial_t partial, int *quorum);

#ifdef __cplusplus
}
#endif

#endif /* LIBPARTIAL_H */
