/* The flush and close agreement of a partial allreduce.
 *
 * Flush and close need every rank, so they are collectives on a
 * communicator of their own: an allgather of each rank's kind, call count
 * and failure, from which every rank computes the same rounds to fire. A
 * flush then resets the trigger's counters behind a barrier; a close ends
 * all forwarding and sums, with a reduce-scatter, how many control
 * messages are still on their way to each rank, which waits for them
 * before it leaves, so no send is left unmatched. Flush and close are one
 * collective, so a rank that closes still matches a peer in flush. The
 * progress thread runs it from the trigger's steps (trigger.c). */
#include "partial/partial.h"

#include <stdlib.h>

enum { AGREE_FLUSH = 1, AGREE_CLOSE = 2 };

static int compare_descending(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* What every rank computes alike from the gathered kinds, calls and
 * failures [takes the lock]; returns the agreed kind,
 * or 0 for a flush that a failure stops. */
static int decide(lp_partial_t partial)
{
    const int size = partial->size;
    int kind = AGREE_FLUSH;
    lp_result_t failure = LP_SUCCESS;
    int failed_rank = 0;
    int64_t *calls = &partial->agreement_all[size * LP_AGREEMENT_WORDS];
    int64_t most = 0, least = INT64_MAX;
    for (int r = 0; r < size; r++) {
        const int64_t *word = &partial->agreement_all[r * LP_AGREEMENT_WORDS];
        if (word[0] == AGREE_CLOSE) kind = AGREE_CLOSE;
        if (failure == LP_SUCCESS && word[2] != LP_SUCCESS) failure = (lp_result_t)word[2], failed_rank = (int)word[3];
        calls[r] = word[1];
        if (word[1] > most) most = word[1];
        if (word[1] < least) least = word[1];
    }
    /* Round r has its quorum once quorum ranks have made more than r
     * calls: up to the quorum-th largest call count, exclusive. */
    qsort(calls, (size_t)size, sizeof *calls, compare_descending);
    const int64_t fired = calls[partial->quorum - 1] - 1;
    lp_partial_adopt(partial, fired, least, failure, failed_rank);
    pthread_mutex_lock(&partial->lock);
    if (kind == AGREE_CLOSE) {
        partial->close_sent = 1; /* a peer closed: this rank closes too */
    } else if (partial->failure == LP_SUCCESS) {
        /* Every rank is in flush, so no call will come: rounds some rank
         * arrived at fire now, without their quorum, then the drain round. */
        partial->forced_first = partial->fired_through + 1;
        if (most - 1 > partial->fired_through) partial->fired_through = most - 1;
        partial->flush_round = ++partial->fired_through;
        partial->min_calls = partial->flush_round + 1;
        pthread_cond_broadcast(&partial->changed);
    }
    const int failed = partial->failure != LP_SUCCESS;
    pthread_mutex_unlock(&partial->lock);
    return kind == AGREE_FLUSH && failed ? 0 : kind;
}

lp_result_t lp_partial_advance_agreement(lp_partial_t partial, int64_t calls, int *active)
{
    int done = 0;
    switch (partial->agreement) {
    case LP_AGREEMENT_NONE: {
        pthread_mutex_lock(&partial->lock);
        const int closing = partial->close_requested && !partial->close_sent;
        const int flushing = partial->flush_requested && !partial->flush_sent;
        /* This rank's error goes out in a notice first (announce), and its
         * arrival in flight completes, so the agreement reflects both. */
        const int ready = (closing || flushing) && partial->arrival_request == MPI_REQUEST_NULL &&
                          (partial->local_error == LP_SUCCESS || partial->local_error_sent);
        if (ready) {
            partial->close_sent |= closing;
            partial->flush_sent |= flushing;
            partial->agreement_mine[0] = closing ? AGREE_CLOSE : AGREE_FLUSH;
            partial->agreement_mine[1] = calls;
            partial->agreement_mine[2] = partial->failure;
            partial->agreement_mine[3] = partial->failed_rank;
        }
        pthread_mutex_unlock(&partial->lock);
        if (!ready) return LP_SUCCESS;
        *active = 1;
        partial->agreement = LP_AGREEMENT_GATHERING;
        return lp_check_mpi(MPI_Iallgather(partial->agreement_mine, LP_AGREEMENT_WORDS, MPI_INT64_T,
                                           partial->agreement_all, LP_AGREEMENT_WORDS, MPI_INT64_T,
                                           partial->agreement_comm, &partial->agreement_request),
                            "MPI_Iallgather");
    }
    case LP_AGREEMENT_GATHERING: {
        LP_TRY_MPI(MPI_Test(&partial->agreement_request, &done, MPI_STATUS_IGNORE));
        if (!done) return LP_SUCCESS;
        *active = 1;
        const int kind = decide(partial);
        if (kind == AGREE_CLOSE) {
            /* From here no rank sends a control message: the counts are final. */
            partial->forwarding = 0;
            partial->agreement = LP_AGREEMENT_CLOSE_DRAIN;
            return lp_check_mpi(MPI_Ireduce_scatter_block(partial->sent_to, &partial->expected_total, 1, MPI_INT64_T,
                                                          MPI_SUM, partial->agreement_comm,
                                                          &partial->agreement_request),
                                "MPI_Ireduce_scatter_block");
        }
        if (kind != AGREE_FLUSH) {
            partial->agreement = LP_AGREEMENT_NONE; /* failed: only close is left */
            return LP_SUCCESS;
        }
        pthread_mutex_lock(&partial->lock);
        partial->epoch_start = partial->arrived_through = partial->flush_round + 1;
        pthread_mutex_unlock(&partial->lock);
        lp_partial_trigger_reset_counters(partial);
        partial->agreement = LP_AGREEMENT_FLUSH_RESET;
        return lp_check_mpi(MPI_Ibarrier(partial->agreement_comm, &partial->agreement_request), "MPI_Ibarrier");
    }
    case LP_AGREEMENT_FLUSH_RESET:
        LP_TRY_MPI(MPI_Test(&partial->agreement_request, &done, MPI_STATUS_IGNORE));
        if (done) partial->agreement = LP_AGREEMENT_NONE, *active = 1;
        return LP_SUCCESS;
    case LP_AGREEMENT_CLOSE_DRAIN:
        if (partial->agreement_request != MPI_REQUEST_NULL) {
            LP_TRY_MPI(MPI_Test(&partial->agreement_request, &done, MPI_STATUS_IGNORE));
            if (!done) return LP_SUCCESS;
            *active = 1;
        }
        if (partial->received_total < partial->expected_total) return LP_SUCCESS;
        pthread_mutex_lock(&partial->lock);
        if (!partial->finish_announced) *active = 1;
        partial->finish_announced = 1;
        pthread_cond_broadcast(&partial->changed);
        pthread_mutex_unlock(&partial->lock);
        return LP_SUCCESS;
    }
    return LP_SUCCESS;
}
