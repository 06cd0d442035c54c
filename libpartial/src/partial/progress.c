/* The progress thread of a partial allreduce and its protocol.
 *
 * Every rank's thread owns all MPI traffic of its object, on the object's
 * own communicator, so rounds advance while the user thread computes.
 * Rank 0's thread is also the coordinator: every rank reports its call
 * count (ARRIVE), and the coordinator fires round r once the quorum of
 * ranks has made more than r calls. It announces the rounds fired, the
 * slowest rank's call count (for bounded staleness), flushes, failures and
 * the end (NOTICE). Notices from one sender arrive in order (MPI's
 * non-overtaking rule), so every rank reduces the same rounds in the same
 * order; a round's reduction (reduction.c) reduces each element once, on
 * one rank, so every rank receives the same bits. */
#include "partial/partial.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { COORDINATOR = 0 };
/* Idle polling backs off to IDLE_MAX_US, so that an idle object costs
 * little CPU on an oversubscribed node; a user call wakes the thread at
 * once. While a round is reducing or a local call waits, the thread first
 * spins (yielding the core) for SPIN_US after its last progress, since a
 * rendezvous message or a notice advances only when tested and every sleep
 * adds its length to the round; then the backoff stops at BUSY_MAX_US. */
enum { IDLE_MIN_US = 20, BUSY_MAX_US = 50, IDLE_MAX_US = 250, SPIN_US = 200, DRAIN_BATCH = 64 };

struct lp_partial_send {
    MPI_Request request;
    struct lp_partial_control message;
    struct lp_partial_send *next;
};

static lp_result_t send_control(lp_partial_t partial, int destination, const struct lp_partial_control *message)
{
    struct lp_partial_send *send = calloc(1, sizeof *send);
    if (send == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a control message");
    send->message = *message;
    int rc = MPI_Isend(&send->message, LP_CONTROL_WORDS, MPI_INT64_T, destination, LP_CONTROL_TAG, partial->comm,
                       &send->request);
    if (rc != MPI_SUCCESS) {
        free(send);
        return lp_check_mpi(rc, "MPI_Isend");
    }
    send->next = partial->sends;
    partial->sends = send;
    lp_partial_count_event(&partial->counters.control_messages_sent);
    return LP_SUCCESS;
}

/* Frees the sends that have completed; with wait, waits for all of them. */
static lp_result_t reap_sends(lp_partial_t partial, int wait)
{
    struct lp_partial_send **link = &partial->sends;
    while (*link != NULL) {
        struct lp_partial_send *send = *link;
        int done = 1;
        if (wait) LP_TRY_MPI(MPI_Wait(&send->request, MPI_STATUS_IGNORE));
        else LP_TRY_MPI(MPI_Test(&send->request, &done, MPI_STATUS_IGNORE));
        if (done) {
            *link = send->next;
            free(send);
        } else {
            link = &send->next;
        }
    }
    return LP_SUCCESS;
}

static lp_result_t to_coordinator(lp_partial_t partial, enum lp_partial_message_type type, int64_t value)
{
    /* Zeroed whole: an initializer would leave the union's other words unset. */
    struct lp_partial_control message;
    memset(&message, 0, sizeof message);
    message.type = type;
    message.value = value;
    return send_control(partial, COORDINATOR, &message);
}

/* Sends what the user thread has asked for since the last step, in the
 * order the coordinator needs: calls before the flush or close they precede. */
static lp_result_t send_outbox(lp_partial_t partial, int *active)
{
    pthread_mutex_lock(&partial->lock);
    int64_t calls = partial->calls;
    int send_calls = calls != partial->calls_reported;
    int send_error = partial->local_error != LP_SUCCESS && !partial->local_error_sent;
    int send_flush = partial->flush_requested && !partial->flush_sent;
    int send_close = partial->close_requested && !partial->close_sent;
    lp_result_t error = partial->local_error;
    partial->calls_reported = calls;
    partial->local_error_sent |= send_error;
    partial->flush_sent |= send_flush;
    partial->close_sent |= send_close;
    pthread_mutex_unlock(&partial->lock);

    if (send_calls) LP_TRY(to_coordinator(partial, LP_MSG_ARRIVE, calls));
    if (send_error) LP_TRY(to_coordinator(partial, LP_MSG_ERROR, error));
    if (send_flush) LP_TRY(to_coordinator(partial, LP_MSG_FLUSH, calls));
    if (send_close) LP_TRY(to_coordinator(partial, LP_MSG_CLOSE, 0));
    *active |= send_calls | send_error | send_flush | send_close;
    return LP_SUCCESS;
}

static void coordinator_receive(lp_partial_t partial, const struct lp_partial_control *message, int source)
{
    switch (message->type) {
    case LP_MSG_ARRIVE: partial->coordinator_calls[source] = message->value; break;
    case LP_MSG_FLUSH: partial->coordinator_flushes++; break;
    case LP_MSG_CLOSE: partial->coordinator_closes++; break;
    case LP_MSG_ERROR:
        if (partial->coordinator_failure == LP_SUCCESS) {
            partial->coordinator_failure = (lp_result_t)message->value;
            partial->coordinator_failed_rank = source;
        }
        break;
    default: break;
    }
}

static void receive_notice(lp_partial_t partial, const struct lp_partial_control *message)
{
    pthread_mutex_lock(&partial->lock);
    if (message->notice.fired_through > partial->fired_through) partial->fired_through = message->notice.fired_through;
    partial->min_calls = message->notice.min_calls;
    partial->flush_round = message->notice.flush_round;
    partial->forced_first = message->notice.forced_first;
    if (message->notice.failure != LP_SUCCESS && partial->failure == LP_SUCCESS) {
        partial->failure = (lp_result_t)message->notice.failure;
        partial->failed_rank = (int)message->notice.failed_rank;
        lp_partial_fail_waiters(partial, partial->failure);
    }
    if (message->notice.finish) partial->finish_announced = 1;
    pthread_cond_broadcast(&partial->changed);
    pthread_mutex_unlock(&partial->lock);
}

static lp_result_t post_control_receive(lp_partial_t partial)
{
    return lp_check_mpi(MPI_Irecv(&partial->control_message, LP_CONTROL_WORDS, MPI_INT64_T, MPI_ANY_SOURCE,
                                  LP_CONTROL_TAG, partial->comm, &partial->control_request),
                        "MPI_Irecv");
}

static lp_result_t drain_control(lp_partial_t partial, int *active)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        int arrived = 0;
        MPI_Status status;
        LP_TRY_MPI(MPI_Test(&partial->control_request, &arrived, &status));
        if (!arrived) return LP_SUCCESS;
        *active = 1;
        lp_partial_count_event(&partial->counters.control_messages_received);
        if (partial->control_message.type == LP_MSG_NOTICE) receive_notice(partial, &partial->control_message);
        else coordinator_receive(partial, &partial->control_message, status.MPI_SOURCE);
        LP_TRY(post_control_receive(partial));
    }
    return LP_SUCCESS;
}

static int ranks_arrived_at(lp_partial_t partial, int64_t round)
{
    int arrived = 0;
    for (int r = 0; r < partial->size; r++) arrived += partial->coordinator_calls[r] > round;
    return arrived;
}

/* Whether a notice says nothing new: forced_first and failed_rank change
 * only along with flush_round and failure. */
static int same_announcement(const struct lp_partial_control *a, const struct lp_partial_control *b)
{
    return a->notice.fired_through == b->notice.fired_through && a->notice.min_calls == b->notice.min_calls &&
           a->notice.flush_round == b->notice.flush_round && a->notice.failure == b->notice.failure &&
           a->notice.finish == b->notice.finish;
}

/* Rank 0: fires what can fire, then tells every rank what changed. */
static lp_result_t coordinate(lp_partial_t partial)
{
    const int failed = partial->coordinator_failure != LP_SUCCESS;
    if (!failed)
        while (ranks_arrived_at(partial, partial->coordinator_fired + 1) >= partial->quorum)
            partial->coordinator_fired++;
    if (!failed && partial->coordinator_flushes == partial->size) {
        /* Every rank is in flush, so no call will come: rounds some rank
         * arrived at fire now, without their quorum, then the drain round. */
        int64_t most_calls = 0;
        for (int r = 0; r < partial->size; r++)
            if (partial->coordinator_calls[r] > most_calls) most_calls = partial->coordinator_calls[r];
        partial->coordinator_forced_first = partial->coordinator_fired + 1;
        if (most_calls - 1 > partial->coordinator_fired) partial->coordinator_fired = most_calls - 1;
        partial->coordinator_flush_round = ++partial->coordinator_fired;
        for (int r = 0; r < partial->size; r++)
            partial->coordinator_calls[r] = partial->coordinator_flush_round + 1;
        partial->coordinator_flushes = 0;
    }
    int64_t slowest = partial->coordinator_calls[0];
    for (int r = 1; r < partial->size; r++)
        if (partial->coordinator_calls[r] < slowest) slowest = partial->coordinator_calls[r];
    partial->coordinator_min = slowest;
    if (partial->coordinator_closes == partial->size) partial->coordinator_finish = 1;

    const struct lp_partial_control notice = {.type = LP_MSG_NOTICE,
                                              .notice = {.fired_through = partial->coordinator_fired,
                                                         .min_calls = partial->coordinator_min,
                                                         .flush_round = partial->coordinator_flush_round,
                                                         .forced_first = partial->coordinator_forced_first,
                                                         .failure = partial->coordinator_failure,
                                                         .failed_rank = partial->coordinator_failed_rank,
                                                         .finish = partial->coordinator_finish}};
    if (partial->announced_once && same_announcement(&notice, &partial->announced)) return LP_SUCCESS;
    partial->announced = notice;
    partial->announced_once = 1;
    for (int r = 0; r < partial->size; r++) LP_TRY(send_control(partial, r, &notice));
    return LP_SUCCESS;
}

/* ---- the thread ---- */

/* An object that gave up leaves at once, even with a round in flight: that
 * round may wait on a peer that is gone, and the thread must not spin on it. */
static int finished(lp_partial_t partial)
{
    pthread_mutex_lock(&partial->lock);
    const int abandoned = partial->abandon;
    const int drained = partial->finish_announced && partial->snapshot_through >= partial->fired_through;
    pthread_mutex_unlock(&partial->lock);
    return abandoned || (drained && partial->reduction.round < 0);
}

static lp_result_t step(lp_partial_t partial, int *active)
{
    LP_TRY(send_outbox(partial, active));
    LP_TRY(drain_control(partial, active));
    if (partial->rank == COORDINATOR) LP_TRY(coordinate(partial));
    LP_TRY(lp_partial_advance_reduction(partial, active));
    return reap_sends(partial, 0);
}

static void idle(lp_partial_t partial, long microseconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += microseconds * 1000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    pthread_mutex_lock(&partial->lock);
    if (!partial->abandon) pthread_cond_timedwait(&partial->wake, &partial->lock, &until);
    pthread_mutex_unlock(&partial->lock);
}

/* How long an abandoned receive may take to confirm its cancellation. */
#define CANCEL_GRACE_US 100000.0

static double now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e6 + (double)now.tv_nsec * 1e-3;
}

/* Ends a request whose peer may be gone. A receive is cancelled, which MPI
 * completes locally unless the message is already arriving; a send cannot
 * be taken back. Returns 1 when MPI may still touch the request's buffer,
 * which then has to outlive the object. */
static int abandon_request(MPI_Request *request, int is_receive)
{
    if (*request == MPI_REQUEST_NULL) return 0;
    if (is_receive) MPI_Cancel(request);
    int done = 0;
    const double until_us = now_us() + (is_receive ? CANCEL_GRACE_US : 0);
    for (;;) {
        if (MPI_Test(request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done || now_us() >= until_us) break;
        sched_yield();
    }
    if (done) return 0;
    MPI_Request_free(request);
    return 1;
}

/* Completes or releases every MPI request the thread still owns. */
static void shut_down(lp_partial_t partial, int abandoning)
{
    if (!abandoning) {
        if (partial->control_request != MPI_REQUEST_NULL) {
            MPI_Cancel(&partial->control_request);
            MPI_Wait(&partial->control_request, MPI_STATUS_IGNORE);
        }
        reap_sends(partial, 1);
        return;
    }
    /* Peers may be gone. Buffers lent to a reduction go back to their
     * calls, which can only be running on another thread, racing with
     * close or MPI_Finalize. */
    int held = abandon_request(&partial->control_request, 1);
    /* Sends that have not finished stay listed, their messages allocated,
     * with the object that MPI may still read them from. */
    reap_sends(partial, 0);
    int sends_held = 0;
    for (struct lp_partial_send *send = partial->sends; send != NULL; send = send->next)
        sends_held |= abandon_request(&send->request, 0);
    if (!sends_held) reap_sends(partial, 0); /* every request is null now: frees them all */
    held |= sends_held;
    struct lp_partial_reduction *reduction = &partial->reduction;
    if (reduction->round >= 0) {
        for (int64_t i = 0; i < reduction->nrequests; i++)
            held |= abandon_request(&reduction->requests[i], i < reduction->nreceives);
        /* A nonblocking collective can be neither cancelled nor freed. */
        int done = 1;
        if (reduction->meta_request != MPI_REQUEST_NULL)
            MPI_Test(&reduction->meta_request, &done, MPI_STATUS_IGNORE);
        held |= !done;
    }
    pthread_mutex_lock(&partial->lock);
    lp_partial_return_lent(partial, reduction);
    partial->mpi_holds_memory |= held;
    pthread_mutex_unlock(&partial->lock);
    lp_partial_reduction_reset(reduction);
}

static int is_busy(lp_partial_t partial)
{
    pthread_mutex_lock(&partial->lock);
    int waiting = partial->waiters != NULL;
    pthread_mutex_unlock(&partial->lock);
    return waiting || partial->reduction.round >= 0;
}

static void *progress_main(void *argument)
{
    lp_partial_t partial = argument;
    lp_result_t rc = post_control_receive(partial);
    long idle_us = IDLE_MIN_US;
    double last_progress_us = now_us();
    while (rc == LP_SUCCESS && !finished(partial)) {
        int active = 0;
        rc = step(partial, &active);
        if (active) {
            idle_us = IDLE_MIN_US;
            last_progress_us = now_us();
            continue;
        }
        const int busy = is_busy(partial);
        if (busy && now_us() - last_progress_us < SPIN_US) {
            sched_yield();
            continue;
        }
        idle(partial, idle_us);
        const long limit = busy ? BUSY_MAX_US : IDLE_MAX_US;
        idle_us = idle_us * 2 < limit ? idle_us * 2 : limit;
    }
    pthread_mutex_lock(&partial->lock);
    int abandoning = partial->abandon || rc != LP_SUCCESS;
    if (rc != LP_SUCCESS && partial->failure == LP_SUCCESS) {
        /* MPI failed under the protocol: the object cannot go on here. */
        partial->failure = rc;
        partial->failed_rank = partial->rank;
    }
    pthread_mutex_unlock(&partial->lock);
    shut_down(partial, abandoning);
    pthread_mutex_lock(&partial->lock);
    lp_partial_fail_waiters(partial, partial->failure != LP_SUCCESS ? partial->failure : LP_ERR_CLOSED);
    partial->thread_exited = 1;
    pthread_cond_broadcast(&partial->changed);
    pthread_mutex_unlock(&partial->lock);
    return NULL;
}

lp_result_t lp_partial_start_thread(lp_partial_t partial)
{
    partial->control_request = MPI_REQUEST_NULL;
    int rc = pthread_create(&partial->thread, NULL, progress_main, partial);
    if (rc != 0) return lp_fail(LP_ERR_INTERNAL, "cannot start the progress thread: %s", strerror(rc));
    return LP_SUCCESS;
}

void lp_partial_join_thread(lp_partial_t partial)
{
    pthread_join(partial->thread, NULL);
}
