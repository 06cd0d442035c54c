/* Partial allreduce bookkeeping: this rank's pending contribution, the
 * snapshot a firing round consumes, the ring of completed rounds, and the
 * callers waiting for them. Everything here runs under partial->lock except
 * buffer allocation. */
#include "partial/partial.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

lp_result_t lp_partial_alloc_buffers(lp_partial_t partial)
{
    size_t bytes = (size_t)(partial->count * partial->width);
    /* malloc(0) may return NULL; one byte keeps "NULL means failure". */
    size_t alloc = bytes > 0 ? bytes : 1;
    partial->pending = malloc(alloc);
    partial->snapshot = malloc(alloc);
    partial->ring = calloc((size_t)partial->ring_size, sizeof *partial->ring);
    if (partial->pending == NULL || partial->snapshot == NULL || partial->ring == NULL)
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the partial allreduce buffers");
    for (int i = 0; i < partial->ring_size; i++) {
        partial->ring[i].round = -1;
        partial->ring[i].data = malloc(alloc);
        if (partial->ring[i].data == NULL)
            return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %d result buffers of %zu bytes",
                           partial->ring_size, bytes);
    }
    return LP_SUCCESS;
}

void lp_partial_free_buffers(lp_partial_t partial)
{
    free(partial->pending);
    free(partial->snapshot);
    if (partial->ring != NULL)
        for (int i = 0; i < partial->ring_size; i++) free(partial->ring[i].data);
    free(partial->ring);
    partial->pending = partial->snapshot = NULL;
    partial->ring = NULL;
}

#define FILL(type, value)                                                   \
    do {                                                                    \
        type *typed = buffer;                                               \
        for (int64_t i = 0; i < partial->count; i++) typed[i] = (value);    \
    } while (0)

void lp_partial_fill_identity(lp_partial_t partial, void *buffer)
{
    switch (partial->op) {
    case LP_SUM:
        memset(buffer, 0, (size_t)(partial->count * partial->width)); /* 0 and +0.0 */
        return;
    case LP_PROD:
        switch (partial->datatype) {
        case LP_INT32: FILL(int32_t, 1); return;
        case LP_INT64: FILL(int64_t, 1); return;
        case LP_FLOAT32: FILL(float, 1.0f); return;
        default: FILL(double, 1.0); return;
        }
    case LP_MIN:
        switch (partial->datatype) {
        case LP_INT32: FILL(int32_t, INT32_MAX); return;
        case LP_INT64: FILL(int64_t, INT64_MAX); return;
        case LP_FLOAT32: FILL(float, INFINITY); return;
        default: FILL(double, INFINITY); return;
        }
    default: /* LP_MAX */
        switch (partial->datatype) {
        case LP_INT32: FILL(int32_t, INT32_MIN); return;
        case LP_INT64: FILL(int64_t, INT64_MIN); return;
        case LP_FLOAT32: FILL(float, -INFINITY); return;
        default: FILL(double, -INFINITY); return;
        }
    }
}

void lp_partial_reclaim_pending(lp_partial_t partial, const struct lp_partial_waiter *waiter)
{
    if (partial->pending_lender != waiter || waiter == NULL) return;
    memcpy(partial->pending, waiter->sendbuf, (size_t)(partial->count * partial->width));
    partial->pending_lender = NULL;
}

lp_result_t lp_partial_merge_pending(lp_partial_t partial, struct lp_partial_waiter *waiter)
{
    lp_partial_reclaim_pending(partial, partial->pending_lender);
    const size_t bytes = (size_t)(partial->count * partial->width);
    if (partial->pending_calls == 0) {
        /* The first contribution is borrowed or copied: the pending buffer
         * holds stale bytes from an earlier snapshot swap, never an
         * identity fill. */
        if (waiter->lendable) partial->pending_lender = waiter;
        else if (bytes > 0) memcpy(partial->pending, waiter->sendbuf, bytes);
        partial->pending_first = waiter->round;
    } else {
        LP_TRY(lp_reduce_local(waiter->sendbuf, partial->pending, partial->count, partial->datatype, partial->op));
    }
    partial->pending_last = waiter->round;
    partial->pending_calls++;
    return LP_SUCCESS;
}

static int overlap(const void *a, const void *b, size_t bytes)
{
    const char *x = a, *y = b;
    return x < y + bytes && y < x + bytes;
}

/* A blocking call for round whose recvbuf can take the result directly:
 * only once this rank has made its call for round, since a later call for
 * it would read the result from the slot. */
static struct lp_partial_waiter *result_lender(lp_partial_t partial, int64_t round, const void *contribution)
{
    if (partial->calls <= round) return NULL;
    for (struct lp_partial_waiter *waiter = partial->waiters; waiter != NULL; waiter = waiter->next)
        if (waiter->round == round && waiter->lendable &&
            !overlap(waiter->recvbuf, contribution, (size_t)(partial->count * partial->width)))
            return waiter;
    return NULL;
}

void lp_partial_take_snapshot(lp_partial_t partial, struct lp_partial_reduction *reduction)
{
    const int64_t round = reduction->round;
    int64_t *meta = reduction->meta_in;
    struct lp_partial_waiter *lender = partial->pending_lender;
    reduction->contribution = partial->snapshot;
    if (lender != NULL) {
        reduction->contribution = lender->sendbuf;
        partial->pending_lender = NULL;
    } else if (partial->pending_calls > 0) {
        void *taken = partial->pending;
        partial->pending = partial->snapshot;
        partial->snapshot = taken;
        reduction->contribution = taken;
    } else {
        lp_partial_fill_identity(partial, partial->snapshot);
    }
    meta[0] = partial->pending_calls;
    meta[1] = partial->pending_calls > 0 && partial->pending_first <= round && round <= partial->pending_last;
    partial->pending_calls = 0;
    partial->snapshot_through = round;

    struct lp_partial_slot *slot = lp_partial_slot_of(partial, round);
    slot->round = -1; /* being overwritten from now on */
    struct lp_partial_waiter *receiver = result_lender(partial, round, reduction->contribution);
    reduction->result = receiver != NULL ? receiver->recvbuf : slot->data;
    reduction->lenders[0] = lender;
    reduction->lenders[1] = receiver;
    for (int i = 0; i < 2; i++)
        if (reduction->lenders[i] != NULL) reduction->lenders[i]->lent++;
}

void lp_partial_return_lent(lp_partial_t partial, struct lp_partial_reduction *reduction)
{
    for (int i = 0; i < 2; i++) {
        if (reduction->lenders[i] != NULL) reduction->lenders[i]->lent--;
        reduction->lenders[i] = NULL;
    }
    pthread_cond_broadcast(&partial->changed);
}

struct lp_partial_slot *lp_partial_slot_of(lp_partial_t partial, int64_t round)
{
    return &partial->ring[round % partial->ring_size];
}

void lp_partial_deliver(lp_partial_t partial, const struct lp_partial_slot *slot, const void *data,
                        struct lp_partial_waiter *waiter)
{
    /* recvbuf may be the call's own sendbuf, still borrowed as pending. */
    lp_partial_reclaim_pending(partial, waiter);
    if (partial->count > 0 && waiter->recvbuf != NULL && waiter->recvbuf != data)
        memcpy(waiter->recvbuf, data, (size_t)(partial->count * partial->width));
    if (waiter->info != NULL) {
        waiter->info->round = slot->round;
        waiter->info->contributions = slot->contributions;
        waiter->info->fresh = slot->fresh;
        waiter->info->quorum_met = slot->quorum_met;
        waiter->info->late = waiter->late;
    }
    waiter->done = 1;
    waiter->result = LP_SUCCESS;
}

void lp_partial_remove_waiter(lp_partial_t partial, struct lp_partial_waiter *waiter)
{
    for (struct lp_partial_waiter **link = &partial->waiters; *link != NULL; link = &(*link)->next) {
        if (*link == waiter) {
            *link = waiter->next;
            waiter->next = NULL;
            return;
        }
    }
}

void lp_partial_complete_round(lp_partial_t partial, int64_t round, const void *data)
{
    const struct lp_partial_slot *slot = lp_partial_slot_of(partial, round);
    const int is_flush = round == partial->flush_round;
    struct lp_partial_waiter **link = &partial->waiters;
    while (*link != NULL) {
        struct lp_partial_waiter *waiter = *link;
        if (waiter->round == round || (is_flush && waiter->round == -1)) {
            lp_partial_deliver(partial, slot, data, waiter);
            *link = waiter->next;
            waiter->next = NULL;
        } else {
            link = &waiter->next;
        }
    }
    partial->completed_through = round;
    if (is_flush) {
        /* A flush ends the epoch: every rank's next call is the next round. */
        partial->calls = round + 1;
        partial->flush_requested = partial->flush_sent = 0;
    }
}

void lp_partial_fail_waiters(lp_partial_t partial, lp_result_t code)
{
    while (partial->waiters != NULL) {
        struct lp_partial_waiter *waiter = partial->waiters;
        partial->waiters = waiter->next;
        waiter->next = NULL;
        waiter->done = 1;
        waiter->result = code;
    }
}

lp_result_t lp_partial_failure_result(lp_partial_t partial)
{
    if (partial->failed_rank == partial->rank && partial->local_error == partial->failure)
        return lp_fail(partial->failure, "this partial allreduce failed earlier on this rank (%s); "
                       "it has failed on every rank and can only be closed",
                       lp_result_string(partial->failure));
    return lp_fail(partial->failure, "rank %d of %d reported a bad call (%s) to this partial allreduce; "
                   "it has failed on every rank and can only be closed",
                   partial->failed_rank, partial->size, lp_result_string(partial->failure));
}
