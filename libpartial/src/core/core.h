/* Declarations shared by the core's source files; not installed. */
#ifndef LP_CORE_CORE_H
#define LP_CORE_CORE_H

#include "libpartial.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
/* NumPy's names ("float32"), and "sum", "prod", "min", "max": for messages. */
extern const char *const lp_datatype_names[LP_NUM_DATATYPES];
extern const char *const lp_op_names[LP_NUM_OPS];
MPI_Datatype lp_mpi_datatype(lp_datatype_t datatype);
MPI_Op lp_mpi_op(lp_op_t op);
/* Largest element count handed to one MPI call: INT_MAX, or smaller when
 * LP_MAX_MPI_COUNT is set (a testing aid for the chunking paths), as it was
 * at the first call that needed it. */
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
/* How a mismatch message names an agreed parameter and writes its values. */
enum lp_param_kind {
    LP_PARAM_INTEGER,
    LP_PARAM_DOUBLE, /* the bits of a double (lp_double_bits) */
    LP_PARAM_ENUM,   /* value v is written names[v] */
};
struct lp_param {
    const char *name;
    enum lp_param_kind kind;
    const char *const *names; /* LP_PARAM_ENUM: nnames of them */
    int nnames;
    const char *hint;         /* appended to its mismatch message, or NULL */
};
#define LP_PARAM_INT(label) {.name = (label), .kind = LP_PARAM_INTEGER}
#define LP_PARAM_REAL(label) {.name = (label), .kind = LP_PARAM_DOUBLE}
#define LP_PARAM_NAMED(label, table) \
    {.name = (label), .kind = LP_PARAM_ENUM, .names = (table), .nnames = (int)(sizeof(table) / sizeof *(table))}

static inline int64_t lp_double_bits(double value)
{
    int64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* Every agreement reduces this many parameters, whatever it passes, so that
 * a rank that fails early (lp_comm_agree with none) matches its peers'
 * reduction. More than the public LP_AGREE_MAX_PARAMS: auto agrees on its
 * cost model too. */
#define LP_AGREE_SLOTS 12
/* lp_comm_agree with up to LP_AGREE_SLOTS parameters, described by
 * described[0..nparams) (NULL: "argument i", an integer), which also
 * replaces each of maxima[0..nmaxima) with its maximum over the ranks (free
 * to differ), in the same single reduction. Only a mismatch costs a second
 * one, to find which ranks hold the values its message shows. */
#define LP_AGREE_MAX_MAXIMA 4
lp_result_t lp_comm_agree_max(lp_comm_t comm, lp_result_t local, const int64_t *params,
                              const struct lp_param *described, int nparams, int64_t *maxima, int nmaxima);
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

/* ---- scratch.c ---- */

/* Work buffers that repeated calls reuse instead of faulting in fresh pages;
 * a block from lp_scratch_alloc goes back with lp_scratch_free only. */
void *lp_scratch_alloc(size_t bytes);
void lp_scratch_free(void *pointer);
/* Returns every cached block to the system. */
void lp_scratch_release_cache(void);

/* ---- sparse ---- */

/* A sparse vector: nnz sorted unique indices and their values. storage is
 * what to free (one block: indices, then values); NULL for a view. Functions
 * that write a vector through an out pointer free what it held first, so an
 * out vector must be zeroed or valid. */
struct lp_sparse_vec {
    int64_t nnz;
    int64_t *indices;
    void *values;
    void *storage;
};

/* sparse_vector.c */
lp_result_t lp_sparse_vec_alloc(struct lp_sparse_vec *vec, int64_t capacity, lp_datatype_t datatype);
void lp_sparse_vec_free(struct lp_sparse_vec *vec);
/* Frees *to, then moves *from into it (from becomes empty). */
void lp_sparse_vec_move(struct lp_sparse_vec *to, struct lp_sparse_vec *from);
/* Checks user input (types, count, pointers, every index in [0, size))
 * without copying it. */
lp_result_t lp_sparse_check_input(const void *indices, lp_datatype_t index_type, const void *values,
                                  lp_datatype_t datatype, int64_t count, int64_t size);
/* dense[indices[i]] += values[i] for checked user input, in input order. */
void lp_sparse_add_input(const void *indices, lp_datatype_t index_type, const void *values, lp_datatype_t datatype,
                         int64_t count, void *dense);
/* Copies user input into *out: widened to int64, range-checked, sorted, repeats summed. */
lp_result_t lp_sparse_normalize(const void *indices, lp_datatype_t index_type, const void *values,
                                lp_datatype_t datatype, int64_t count, int64_t size,
                                struct lp_sparse_vec *out);
/* *out = a + b; out may be a or b. */
lp_result_t lp_sparse_merge_sum(const struct lp_sparse_vec *a, const struct lp_sparse_vec *b,
                                lp_datatype_t datatype, struct lp_sparse_vec *out);
/* *out = ((parts[0] + parts[1]) + parts[2]) + ...: one fixed order. */
lp_result_t lp_sparse_sum_in_order(const struct lp_sparse_vec *parts, int nparts, lp_datatype_t datatype,
                                   struct lp_sparse_vec *out);
/* First position whose index is >= index. */
int64_t lp_sparse_lower_bound(const int64_t *indices, int64_t nnz, int64_t index);
/* dense[0, length) = 0, then dense[indices[i] - offset] = values[i]. */
void lp_sparse_densify(const int64_t *indices, const void *values, int64_t nnz, lp_datatype_t datatype,
                       int64_t offset, int64_t length, void *dense);
int64_t lp_sparse_count_nonzero(const void *dense, int64_t length, lp_datatype_t datatype);
/* The nonzero elements of dense[0, length), indexed from offset; nonzero is
 * their number, from lp_sparse_count_nonzero (the caller usually needs it
 * first, to decide whether to sparsify at all). */
lp_result_t lp_sparse_sparsify(const void *dense, int64_t length, lp_datatype_t datatype, int64_t offset,
                               int64_t nonzero, struct lp_sparse_vec *out);
/* Bytes per index on the wire: 4 when every index fits in int32, else 8. */
int lp_sparse_wire_index_width(int64_t size);
void lp_sparse_pack_indices(const int64_t *indices, int64_t nnz, int32_t *packed);
void lp_sparse_unpack_indices_in_place(int64_t *indices, int64_t nnz);

struct lp_sparse_result_s {
    lp_datatype_t datatype;
    int64_t size;
    lp_sparse_algorithm_t algorithm;
    int is_dense;
    struct lp_sparse_vec sparse; /* when !is_dense */
    void *dense;                 /* when is_dense: size elements */
};

/* sparse_cost.c */
struct lp_sparse_problem {
    int64_t size;
    int64_t nnz; /* per rank: the densest rank's count */
    int nprocs;
    int index_bytes; /* on the wire */
    int value_bytes;
    double density_threshold;
};
/* alpha: seconds per message; beta: per byte sent; gamma: per sparse entry
 * sorted, merged or copied; delta: per dense byte touched locally (zeroing,
 * scatter, scan, reduction). */
struct lp_sparse_cost_model {
    double alpha, beta, gamma, delta;
};
/* The model auto uses: the defaults, LP_SPARSE_COST_MODEL's file (read
 * once) or what lp_sparse_set_cost_model set. LP_ERR_INVALID_ARGUMENT when
 * that file cannot be read or is not a cost model. */
lp_result_t lp_sparse_cost_model(struct lp_sparse_cost_model *model);
double lp_sparse_default_density_threshold(int64_t size, lp_datatype_t datatype);
double lp_sparse_estimate_seconds(lp_sparse_algorithm_t algorithm, const struct lp_sparse_problem *problem,
                                  const struct lp_sparse_cost_model *model);
lp_sparse_algorithm_t lp_sparse_choose(const struct lp_sparse_problem *problem,
                                       const struct lp_sparse_cost_model *model);
/* lp_sparse_select_algorithm under the given model. */
lp_sparse_algorithm_t lp_sparse_select_with(const struct lp_sparse_cost_model *model, int64_t size, int64_t nnz,
                                            int nprocs, lp_datatype_t datatype, double density_threshold);

/* sparse_algorithms.c: one sparse allreduce in flight, as a state machine
 * that posts nonblocking point-to-point exchanges and reduces between them. */
struct lp_sparse_op;
lp_result_t lp_sparse_op_create(lp_comm_t comm, lp_sparse_algorithm_t algorithm, lp_datatype_t datatype,
                                int64_t size, double density_threshold, struct lp_sparse_vec *local,
                                struct lp_sparse_op **out);
/* Allocates the dense buffer that dense and dsar need, before they start. */
lp_result_t lp_sparse_op_reserve_dense(struct lp_sparse_op *op);
/* Takes this rank's checked input in the form the algorithm reads: summed
 * into the dense buffer (dense; reserve it first), else normalized. */
lp_result_t lp_sparse_op_load_input(struct lp_sparse_op *op, lp_sparse_algorithm_t algorithm, const void *indices,
                                    lp_datatype_t index_type, const void *values, int64_t count);
/* Fixes the algorithm and the tag block; call on every rank in the same order. */
void lp_sparse_op_begin(struct lp_sparse_op *op, lp_sparse_algorithm_t algorithm, int tag_base);
/* Advances; blocking waits for completion. Sets *done when the result is in. */
lp_result_t lp_sparse_op_progress(struct lp_sparse_op *op, int blocking, int *done);
/* Moves the finished sum into result. */
void lp_sparse_op_take_result(struct lp_sparse_op *op, struct lp_sparse_result_s *result);
void lp_sparse_op_destroy(struct lp_sparse_op *op);

/* ---- partial ---- */
/* Shared by partial.c (entry points), partial_rounds.c (pending
 * contribution, result ring, waiters) and partial_progress.c (the progress
 * thread and the protocol). Fields marked [lock] are guarded by
 * partial->lock; [thread] are touched by the progress thread only. */

#include <pthread.h>

/* One caller waiting for a round: a blocking call, a request, or a flush. */
struct lp_partial_waiter {
    lp_partial_t owner;      /* NULL once the object was destroyed */
    int64_t round;           /* -1 for the flush waiter: the coordinator picks its round */
    const void *sendbuf;
    void *recvbuf;
    /* A blocking call's buffers stay valid until it returns, so the thread
     * may read its contribution and write its result in place rather than
     * through copies. While lent > 0 the reduction in flight uses them and
     * the call must not return; so only a call without a deadline lends,
     * since a round whose peer is gone would keep it forever. */
    int lendable;
    int lent;
    lp_partial_info_t *info; /* may be NULL */
    int late;
    int done;
    lp_result_t result;
    struct lp_partial_waiter *next;
};

/* A completed round in the result ring. */
struct lp_partial_slot {
    int64_t round;           /* -1 while empty */
    int64_t contributions;
    int64_t fresh;
    int64_t quorum_met;
    void *data;
};

/* One reduction in flight on the progress thread (one round at a time). */
struct lp_partial_reduction {
    int64_t round;           /* -1 when idle */
    const void *contribution;               /* this rank's data: the snapshot or a lent sendbuf */
    char *result;                           /* the round's slot or a lent recvbuf */
    struct lp_partial_waiter *lenders[2];   /* whose buffers those are, or NULL [lock] */
    int phase;               /* 1: ring reduce-scatter, 2: ring allgather, 3: data done */
    int step;                /* 0 .. size-2 within a phase */
    int64_t nrequests;       /* data requests of the step in flight */
    int64_t nreceives;       /* the first nreceives of them are receives */
    MPI_Request *requests;   /* per chunk of a block: a receive and a send */
    MPI_Request meta_request;
    int64_t meta_in[2], meta_out[2];
};

struct lp_partial_send;      /* a control message in flight (partial_progress.c) */

struct lp_partial_s {
    /* fixed at creation */
    MPI_Comm comm;           /* the object's own duplicate */
    int rank, size;
    int64_t count, width;
    lp_datatype_t datatype;
    lp_op_t op;
    lp_partial_mode_t mode;
    int quorum, max_staleness;
    double timeout;          /* seconds, <= 0: none */
    int ring_size;
    pthread_t thread;

    pthread_mutex_t lock;
    pthread_cond_t changed;  /* user threads wait here */
    pthread_cond_t wake;     /* the progress thread idles here */

    /* this rank's side [lock] */
    int64_t calls;           /* round of this rank's next call */
    int64_t calls_reported;  /* last value sent to the coordinator [thread reads under lock] */
    void *pending;           /* op over the contributions not yet consumed */
    int64_t pending_calls, pending_first, pending_last;
    struct lp_partial_waiter *pending_lender; /* pending is this call's sendbuf, not copied yet */
    void *snapshot;          /* [thread] what the round in flight reduces */
    struct lp_partial_waiter *waiters;
    int flush_requested, flush_sent;
    int close_requested, close_sent;
    lp_result_t local_error; /* a call-time error to broadcast */
    int local_error_sent;
    int abandon;             /* local teardown: MPI is finalizing or close gave up */
    int64_t live_requests;   /* requests not yet released: they keep the memory alive */
    int mpi_holds_memory;    /* an abandoned request may still touch the object's memory */
    int destroyed;

    int64_t snapshot_through;     /* last round whose snapshot was taken */

    /* what the coordinator has announced [lock] */
    int64_t fired_through, min_calls, flush_round;
    int64_t forced_first;    /* rounds forced_first..flush_round-1 fired without quorum */
    lp_result_t failure;
    int failed_rank;
    int finish_announced;
    int thread_exited;

    /* results [lock] */
    int64_t completed_through;
    struct lp_partial_slot *ring;

    /* progress thread only [thread] */
    MPI_Request control_request;
    int64_t control_message[8];
    struct lp_partial_send *sends;
    struct lp_partial_reduction reduction;
    int64_t *coordinator_calls;   /* rank 0: calls made by each rank */
    int coordinator_flushes, coordinator_closes;
    lp_result_t coordinator_failure;
    int coordinator_failed_rank;
    int coordinator_finish;
    int64_t coordinator_fired, coordinator_min, coordinator_flush_round, coordinator_forced_first;
    int64_t announced[5];    /* rank 0: the last notice sent (fired, min, flush, failure, finish) */
    int announced_once;
    int released;            /* MPI resources freed */
    struct lp_partial_s *registry_next;
};

/* partial_rounds.c */
lp_result_t lp_partial_alloc_buffers(lp_partial_t partial);
void lp_partial_free_buffers(lp_partial_t partial);
/* Resets a buffer to the op's identity, so an empty contribution adds nothing. */
void lp_partial_fill_identity(lp_partial_t partial, void *buffer);
/* Merges a call's sendbuf into the pending contribution [lock]; a lendable
 * call's is only borrowed when nothing else is pending. */
lp_result_t lp_partial_merge_pending(lp_partial_t partial, struct lp_partial_waiter *waiter);
/* Copies waiter's borrowed contribution into the pending buffer, if it is
 * still pending there; before the call returns or its recvbuf is written [lock]. */
void lp_partial_reclaim_pending(lp_partial_t partial, const struct lp_partial_waiter *waiter);
/* Takes the pending contribution for reduction->round [lock]: sets what the
 * reduction reads and where it writes, lending buffers of blocking calls
 * where it can, and the local metadata (calls, fresh). */
void lp_partial_take_snapshot(lp_partial_t partial, struct lp_partial_reduction *reduction);
/* Gives the buffers lent to reduction back to their calls [lock]. */
void lp_partial_return_lent(lp_partial_t partial, struct lp_partial_reduction *reduction);
struct lp_partial_slot *lp_partial_slot_of(lp_partial_t partial, int64_t round);
/* Copies a completed round's data and metadata to a waiter and marks it done [lock]. */
void lp_partial_deliver(lp_partial_t partial, const struct lp_partial_slot *slot, const void *data,
                        struct lp_partial_waiter *waiter);
/* Delivers round (or the flush round), whose result is data, to every waiter for it [lock]. */
void lp_partial_complete_round(lp_partial_t partial, int64_t round, const void *data);
/* Fails every waiter with code [lock]. */
void lp_partial_fail_waiters(lp_partial_t partial, lp_result_t code);
void lp_partial_remove_waiter(lp_partial_t partial, struct lp_partial_waiter *waiter);
/* The failure detail a rank reports for a failed object. */
lp_result_t lp_partial_failure_result(lp_partial_t partial);

/* partial_progress.c */
lp_result_t lp_partial_start_thread(lp_partial_t partial);
/* Blocks until the thread has exited; with abandon set, it leaves at once. */
void lp_partial_join_thread(lp_partial_t partial);

#endif /* LP_CORE_CORE_H */
