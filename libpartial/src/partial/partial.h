/* The partial allreduce's internals; the partial layer uses core only. */
#ifndef LP_PARTIAL_PARTIAL_H
#define LP_PARTIAL_PARTIAL_H

#include "core/core.h"
#include "partial/protocol.h"
#include <pthread.h>

/* Shared by partial.c (entry points), rounds.c (pending
 * contribution, result ring, waiters) and progress.c (the progress
 * thread and the protocol). Fields marked [lock] are guarded by
 * partial->lock; [thread] are touched by the progress thread only. */

/* One caller waiting for a round: a blocking call, a request, or a flush. */
struct lp_partial_waiter {
    lp_partial_t owner;      /* NULL once the object was destroyed */
    int64_t round;           /* -1 for the flush waiter: the flush agreement picks its round */
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

/* Where a reduction step reads or writes. */
enum lp_partial_buffer {
    LP_PARTIAL_NOWHERE = 0,
    LP_PARTIAL_CONTRIBUTION, /* this rank's data for the round */
    LP_PARTIAL_RESULT,       /* the round's result, which also holds partial sums */
    LP_PARTIAL_SCRATCH,      /* halving_doubling: what a partner sent, before it is reduced */
};

/* One dependent step of a reduction (reduction.c): at most one receive and
 * one send (either peer MPI_PROC_NULL for none), then, once both complete,
 * result[reduce_offset..+reduce_length) = reduce_from[reduce_from_offset..] op
 * that part of the result.
 * Offsets and lengths count elements. */
struct lp_partial_step {
    int send_to, receive_from;
    enum lp_partial_buffer send_from, receive_into, reduce_from;
    int64_t send_offset, send_length;
    int64_t receive_offset, receive_length;
    int64_t reduce_from_offset, reduce_offset, reduce_length;
};

/* One reduction in flight on the progress thread (one round at a time). */
struct lp_partial_reduction {
    int64_t round;           /* -1 when idle */
    const void *contribution;               /* this rank's data: the snapshot or a lent sendbuf */
    char *result;                           /* the round's slot or a lent recvbuf */
    char *scratch;                          /* halving_doubling only: count elements */
    struct lp_partial_waiter *lenders[2];   /* whose buffers those are, or NULL [lock] */
    int step;                /* the step in flight, 0 .. nsteps; nsteps: the data is done */
    struct lp_partial_step current;          /* what that step does */
    int64_t nrequests;       /* data requests of the step in flight */
    int64_t nreceives;       /* the first nreceives of them are receives */
    MPI_Request *requests;   /* per chunk of a message: a receive and a send */
    MPI_Request meta_request;
    int64_t meta_in[2], meta_out[2];
};

/* This rank's counts (lp_partial_stats), bumped with lp_partial_count_event
 * by the thread and read atomically by any thread. */
struct lp_partial_counters {
    int64_t rounds, control_messages_sent, control_messages_received, rma_operations, reduction_messages_sent;
    int64_t reduction_steps_last_round;
};

static inline void lp_partial_count_event(int64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

struct lp_partial_send;      /* a control message in flight (trigger.c) */

/* point_to_point: what a host has counted in one slot. */
struct lp_partial_host_count {
    int64_t round;           /* the round the slot counts now, -1 for none */
    int64_t arrivals;
};

/* The words each rank contributes to an agreement: kind, calls, failure, failed rank. */
enum { LP_AGREEMENT_WORDS = 4 };

/* Where the flush and close agreement stands (agreement.c). */
enum lp_partial_agreement {
    LP_AGREEMENT_NONE = 0,
    LP_AGREEMENT_GATHERING,  /* every rank's kind, calls and failure, gathered */
    LP_AGREEMENT_FLUSH_RESET,/* the flush is decided; a barrier waits out every rank's counter reset */
    LP_AGREEMENT_CLOSE_DRAIN,/* the close is decided; this rank counts the control messages still due to it */
};

/* The object's lifecycle flags. They stay separate flags, not one state
 * enum, because they are not one sequence: a flush can be in progress when
 * close is requested, an error can come in any state, and abandon can cut
 * in anywhere, close included; one enum would need their product.
 *
 *   flush_requested  [lock] set by lp_partial_flush; cleared, with flush_sent,
 *                    when the flush round completes (rounds.c), so the next
 *                    flush starts afresh.
 *   flush_sent       [lock] set by the thread once it posted this rank's part
 *                    of the flush agreement (agreement.c).
 *   close_requested  [lock] set by lp_partial_destroy; never cleared. Calls
 *                    after it fail with LP_ERR_CLOSED.
 *   close_sent       [lock] set by the thread once it posted this rank's part
 *                    of the close agreement (or of a flush agreement that
 *                    turned into a close because a peer closed).
 *   local_error_sent [lock] set by the thread once this rank's local_error
 *                    (lp_partial_report_error) went out in a notice; no
 *                    agreement is posted before that.
 *   finish_announced [lock] set when the close agreement is complete and
 *                    every control message due to this rank has arrived;
 *                    the thread finishes the fired rounds and exits.
 *   abandon          [lock] local teardown without the handshake: set by
 *                    release_locally (MPI finalizing) or when close timed
 *                    out. The thread leaves at once and abandons its MPI
 *                    requests (shut_down in progress.c).
 *   thread_exited    [lock] the thread's last act; destroy waits for it.
 *   mpi_holds_memory [lock] set by an abandoning shut_down when a request it
 *                    could not complete may still touch the object's memory:
 *                    the object is then kept, never freed (partial.c).
 *   released         the thread is joined and the communicator freed, by
 *                    destroy or release_locally; written by the one user
 *                    thread that does so, after the join (release_locally
 *                    runs under the registry's lock, and destroy unlists
 *                    the object before it looks).
 *   destroyed        [lock] lp_partial_destroy has run; the last request
 *                    released (live_requests 0) frees the object.
 *
 * In order, on the normal path: close_requested, close_sent,
 * finish_announced, thread_exited, released, destroyed; flush_requested and
 * flush_sent come and go before that. */
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
    /* the reduction's shape (reduction.c) */
    lp_partial_algorithm_t algorithm;
    int nsteps;              /* dependent steps of a round's reduction */
    int group, levels;       /* halving_doubling: the largest power of two <= size, its log2 */
    int group_rank;          /* this rank's place in that group; -1 for a rank the fold sets aside */
    struct lp_partial_counters counters;

    pthread_mutex_t lock;
    pthread_cond_t changed;  /* user threads wait here */
    pthread_cond_t wake;     /* the progress thread idles here */

    /* this rank's side [lock] */
    int64_t calls;           /* round of this rank's next call */
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

    /* what the trigger has learnt [lock] */
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
    struct lp_partial_reduction reduction;
    /* the trigger (trigger.c) [thread] */
    lp_partial_trigger_t trigger;
    int shared_memory;            /* every rank is on this rank's node */
    MPI_Comm agreement_comm;      /* the flush and close collectives, apart from the reductions' */
    int slots;                    /* arrival counters per host: round r uses slot (r / size) % slots on r % size */
    MPI_Win window;               /* one_sided: the slots, passive target under MPI_Win_lock_all */
    int64_t *window_base;
    struct lp_partial_host_count *host_counts; /* point_to_point: one per slot */
    int64_t epoch_start;          /* the first round since the last flush */
    int64_t arrived_through;      /* this rank's arrivals are counted up to this round, exclusive */
    MPI_Request arrival_request;  /* one_sided: the arrival in flight, one at a time */
    int64_t arrival_before;       /* the counter before this rank's +1 */
    MPI_Request control_request;
    struct lp_partial_control control_message;
    struct lp_partial_send *sends;
    int64_t *sent_to;             /* control messages this rank has sent to each rank */
    int64_t received_total, expected_total;
    struct lp_partial_control rooted; /* what this rank last announced as a tree's root */
    int forwarding;               /* 0 once the close agreement stands: every rank knows everything */
    enum lp_partial_agreement agreement;
    MPI_Request agreement_request;
    int64_t agreement_mine[LP_AGREEMENT_WORDS]; /* kind, calls, failure, failed rank */
    int64_t *agreement_all;       /* every rank's four words, then room to sort size call counts */
    int released;            /* MPI resources freed */
    struct lp_registry_link registry; /* among the live objects */
    struct lp_partial_s *kept_next;   /* among those kept for MPI (partial.c) */
};

/* rounds.c */
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

/* reduction.c */
/* Fixes the algorithm and allocates what its rounds need. */
lp_result_t lp_partial_reduction_init(lp_partial_t partial, lp_partial_algorithm_t algorithm);
void lp_partial_reduction_free(lp_partial_t partial);
/* Starts the next fired round when idle, else advances the one in flight
 * (progress thread); *active is set when anything moved. */
lp_result_t lp_partial_advance_reduction(lp_partial_t partial, int *active);
/* Forgets the round in flight, whose requests are complete or abandoned. */
void lp_partial_reduction_reset(struct lp_partial_reduction *reduction);

/* cost.c */
extern const char *const lp_partial_algorithm_names[LP_PARTIAL_NUM_ALGORITHMS];
/* The largest power of two <= nprocs, and its log2 in *levels. */
int lp_partial_power_of_two_below(int nprocs, int *levels);
/* The dependent steps of one round's reduction (0 on one rank). */
int lp_partial_steps(lp_partial_algorithm_t algorithm, int nprocs);
double lp_partial_estimate_seconds(lp_partial_algorithm_t algorithm, int64_t count, int64_t width, int nprocs,
                                   const struct lp_cost_model *model);
lp_partial_algorithm_t lp_partial_choose(int64_t count, int64_t width, int nprocs, const struct lp_cost_model *model);

/* trigger.c */
extern const char *const lp_partial_trigger_names[LP_PARTIAL_NUM_TRIGGERS];
/* Local: requested, or for auto LP_PARTIAL_TRIGGER's name if set (else auto). */
lp_result_t lp_partial_requested_trigger(lp_partial_trigger_t requested, lp_partial_trigger_t *trigger);
/* Collective over comm: whether every rank shares this rank's node, and
 * auto (*trigger) turned into one_sided if so, else point_to_point. */
lp_result_t lp_partial_resolve_trigger(MPI_Comm comm, lp_partial_trigger_t *trigger, int *shared_memory);
/* Collective over the object's communicator, before the thread starts. */
lp_result_t lp_partial_trigger_init(lp_partial_t partial);
/* Frees the agreement's communicator, and the window where the thread
 * never ran (collective then); the thread frees or abandons it itself. */
void lp_partial_trigger_free(lp_partial_t partial);
/* Counts arrivals, relays notices and runs the flush and close agreements
 * (progress thread); *active is set when anything moved. */
lp_result_t lp_partial_trigger_step(lp_partial_t partial, int *active);
/* Completes or gives up the trigger's requests; returns 1 when an abandoned
 * one may still touch the object's memory. */
int lp_partial_trigger_shut_down(lp_partial_t partial, int abandoning);
/* Merges news into the object's state [takes the lock]; returns 1 when it
 * told this rank anything new. */
int lp_partial_adopt(lp_partial_t partial, int64_t fired_through, int64_t min_calls, lp_result_t failure,
                     int failed_rank);
/* Zeroes the arrival counts (window or host slots), where no arrival is in
 * flight: at setup, and behind a flush agreement's barrier. */
void lp_partial_trigger_reset_counters(lp_partial_t partial);

/* agreement.c */
/* Starts or advances this rank's part of a flush or close agreement, once
 * one is requested; calls is this rank's call count (progress thread). */
lp_result_t lp_partial_advance_agreement(lp_partial_t partial, int64_t calls, int *active);

/* progress.c */
lp_result_t lp_partial_start_thread(lp_partial_t partial);
/* Blocks until the thread has exited; with abandon set, it leaves at once. */
void lp_partial_join_thread(lp_partial_t partial);
/* Ends a request whose peer may be gone; returns 1 when MPI may still touch
 * its buffer, which then has to outlive the object. */
int lp_partial_abandon_request(MPI_Request *request, int is_receive);

#endif /* LP_PARTIAL_PARTIAL_H */
