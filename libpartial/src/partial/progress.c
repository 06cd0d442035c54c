/* The progress thread of a partial allreduce.
 *
 * Every rank's thread owns all MPI traffic of its object, on the object's
 * own communicators, so rounds advance while the user thread computes: the
 * trigger (trigger.c) decides which rounds fire, and the reduction
 * (reduction.c) runs them in order. Every rank learns the same fired
 * rounds, so every rank reduces the same rounds in the same order; a
 * round's reduction reduces each element once, on one rank, so every rank
 * receives the same bits. */
#include "partial/partial.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Idle polling backs off to IDLE_MAX_US, so that an idle object costs
 * little CPU on an oversubscribed node; a user call wakes the thread at
 * once. While a round is reducing or a local call waits, the thread first
 * spins (yielding the core) for SPIN_US after its last progress, since a
 * rendezvous message or a notice advances only when tested and every sleep
 * adds its length to the round; then the backoff stops at BUSY_MAX_US. */
enum { IDLE_MIN_US = 20, BUSY_MAX_US = 50, IDLE_MAX_US = 250, SPIN_US = 200 };

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
    LP_TRY(lp_partial_trigger_step(partial, active));
    return lp_partial_advance_reduction(partial, active);
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

/* A receive is cancelled, which MPI completes locally unless the message
 * is already arriving; a send cannot be taken back. */
int lp_partial_abandon_request(MPI_Request *request, int is_receive)
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
    int held = lp_partial_trigger_shut_down(partial, abandoning);
    if (!abandoning) return;
    /* Peers may be gone. Buffers lent to a reduction go back to their
     * calls, which can only be running on another thread, racing with
     * close or MPI_Finalize. */
    struct lp_partial_reduction *reduction = &partial->reduction;
    if (reduction->round >= 0) {
        for (int64_t i = 0; i < reduction->nrequests; i++)
            held |= lp_partial_abandon_request(&reduction->requests[i], i < reduction->nreceives);
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
    return waiting || partial->reduction.round >= 0 || partial->arrival_request != MPI_REQUEST_NULL ||
           partial->agreement != LP_AGREEMENT_NONE;
}

static void *progress_main(void *argument)
{
    lp_partial_t partial = argument;
    lp_result_t rc = LP_SUCCESS;
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
    int rc = pthread_create(&partial->thread, NULL, progress_main, partial);
    if (rc != 0) return lp_fail(LP_ERR_INTERNAL, "cannot start the progress thread: %s", strerror(rc));
    return LP_SUCCESS;
}

void lp_partial_join_thread(lp_partial_t partial)
{
    pthread_join(partial->thread, NULL);
}
