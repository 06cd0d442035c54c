/* The reduction of one round, on the progress thread: a ring, or recursive
 * halving and doubling, as a sequence of dependent steps of point-to-point
 * messages on the object's communicator.
 *
 * Both cut the vector into blocks, reduce each block along a path fixed by
 * the rank numbers alone, so that each element is reduced once, on one
 * rank, in the same order every round, and then copy the finished blocks
 * to every rank: every rank gets the same bits, floats included.
 *
 * ring (P blocks, 2(P-1) steps): a reduce-scatter passes partial sums to
 * the right neighbour, then an allgather passes the finished blocks on.
 * Each step moves N/P elements; the latency grows as P.
 *
 * halving_doubling (G blocks, G the largest power of two <= P): first the
 * fold, where for the r = P - G extra ranks each even rank below 2r hands
 * its vector to the odd rank above it and sits out; then, among the G
 * remaining ranks, log2 G halving steps (exchange half of the current
 * window with the partner at distance G/2, G/4, ..., 1 and reduce the half
 * kept), log2 G doubling steps that gather the finished windows back, and
 * the unfold that returns the result to the ranks that sat out. */
#include "partial/partial.h"

#include <stdlib.h>
#include <string.h>

static int64_t block_offset(int64_t count, int nblocks, int64_t block)
{
    const int64_t base = count / nblocks, extra = count % nblocks;
    return block * base + (block < extra ? block : extra);
}

/* Elements [first, last) of the blocks [first_block, last_block). */
static void blocks_span(const struct lp_partial_s *partial, int nblocks, int64_t first_block, int64_t last_block,
                        int64_t *offset, int64_t *length)
{
    *offset = block_offset(partial->count, nblocks, first_block);
    *length = block_offset(partial->count, nblocks, last_block) - *offset;
}

static int modulo(int value, int size)
{
    return (value % size + size) % size;
}

static void ring_step(const struct lp_partial_s *partial, int k, struct lp_partial_step *step)
{
    const int P = partial->size, rank = partial->rank, reducing = k < P - 1, s = reducing ? k : k - (P - 1);
    /* Reduce-scatter: pass on the partial sum of block rank-s (at s = 0 this
     * rank's own data), receive block rank-s-1 and add this rank's share.
     * Allgather: pass on the finished block rank+1-s, receive block rank-s. */
    const int send = modulo(reducing ? rank - s : rank + 1 - s, P);
    const int receive = modulo(reducing ? rank - s - 1 : rank - s, P);
    step->send_to = (rank + 1) % P;
    step->receive_from = (rank + P - 1) % P;
    step->send_from = reducing && s == 0 ? LP_PARTIAL_CONTRIBUTION : LP_PARTIAL_RESULT;
    blocks_span(partial, P, send, send + 1, &step->send_offset, &step->send_length);
    step->receive_into = LP_PARTIAL_RESULT;
    blocks_span(partial, P, receive, receive + 1, &step->receive_offset, &step->receive_length);
    step->reduce_from = reducing ? LP_PARTIAL_CONTRIBUTION : LP_PARTIAL_NOWHERE;
    step->reduce_from_offset = step->reduce_offset = step->receive_offset;
}

/* The world rank of group member g. */
static int group_member(int g, int extra)
{
    return g < extra ? 2 * g + 1 : g + extra;
}

static void halving_doubling_step(const struct lp_partial_s *partial, int k, struct lp_partial_step *step)
{
    const int rank = partial->rank, G = partial->group, extra = partial->size - G, levels = partial->levels;
    const int folded = extra > 0, in_fold = rank < 2 * extra;
    if (folded && (k == 0 || k == partial->nsteps - 1)) {
        /* The fold hands even ranks' vectors up; the unfold hands the result back. */
        if (!in_fold) return;
        const int even = rank % 2 == 0, unfolding = k != 0;
        const int sends = even != unfolding;
        if (sends) {
            step->send_to = even ? rank + 1 : rank - 1;
            step->send_from = unfolding ? LP_PARTIAL_RESULT : LP_PARTIAL_CONTRIBUTION;
            step->send_offset = 0;
            step->send_length = partial->count;
        } else {
            step->receive_from = even ? rank + 1 : rank - 1;
            step->receive_into = unfolding ? LP_PARTIAL_RESULT : LP_PARTIAL_SCRATCH;
            step->receive_offset = 0;
            step->receive_length = partial->count;
            step->reduce_from = unfolding ? LP_PARTIAL_NOWHERE : LP_PARTIAL_SCRATCH;
        }
        return;
    }
    if (partial->group_rank < 0) return; /* an even rank of the fold sits out */
    const int g = partial->group_rank, level = k - folded;
    /* The window of blocks this rank holds: halving step h narrows it at
     * distance G >> (h + 1); doubling step j widens it back at distance
     * 2^j, from the window of levels - j halvings. */
    int first = 0, last = G;
    const int halvings = level < levels ? level : 2 * levels - level;
    for (int h = 0; h < halvings; h++) {
        const int distance = G >> (h + 1), middle = (first + last) / 2;
        if (g & distance) first = middle;
        else last = middle;
    }
    if (level < levels) {
        const int distance = G >> (level + 1), middle = (first + last) / 2, upper = (g & distance) != 0;
        step->send_to = step->receive_from = group_member(g ^ distance, extra);
        step->send_from = LP_PARTIAL_RESULT;
        blocks_span(partial, G, upper ? first : middle, upper ? middle : last, &step->send_offset, &step->send_length);
        step->receive_into = LP_PARTIAL_SCRATCH;
        blocks_span(partial, G, upper ? middle : first, upper ? last : middle, &step->reduce_offset,
                    &step->receive_length);
        step->receive_offset = 0;
        step->reduce_from = LP_PARTIAL_SCRATCH;
        return;
    }
    /* Doubling: the partner at the distance of the halving that made this
     * window holds the window next to it. */
    const int distance = G >> halvings, width = last - first, upper = (g & distance) != 0;
    step->send_to = step->receive_from = group_member(g ^ distance, extra);
    step->send_from = LP_PARTIAL_RESULT;
    blocks_span(partial, G, first, last, &step->send_offset, &step->send_length);
    step->receive_into = LP_PARTIAL_RESULT;
    blocks_span(partial, G, upper ? first - width : last, upper ? first : last + width, &step->receive_offset,
                &step->receive_length);
}

/* Step k (0 <= k < nsteps) of this rank's reduction. */
static void plan_step(const struct lp_partial_s *partial, int k, struct lp_partial_step *step)
{
    *step = (struct lp_partial_step){.send_to = MPI_PROC_NULL, .receive_from = MPI_PROC_NULL,
                                     .send_from = LP_PARTIAL_NOWHERE, .receive_into = LP_PARTIAL_NOWHERE,
                                     .reduce_from = LP_PARTIAL_NOWHERE};
    if (partial->algorithm == LP_PARTIAL_ALGORITHM_RING) ring_step(partial, k, step);
    else halving_doubling_step(partial, k, step);
    if (step->reduce_from != LP_PARTIAL_NOWHERE) step->reduce_length = step->receive_length;
}

lp_result_t lp_partial_reduction_init(lp_partial_t partial, lp_partial_algorithm_t algorithm)
{
    struct lp_partial_reduction *reduction = &partial->reduction;
    partial->algorithm = algorithm;
    partial->group = lp_partial_power_of_two_below(partial->size, &partial->levels);
    const int extra = partial->size - partial->group;
    if (partial->rank < 2 * extra) partial->group_rank = partial->rank % 2 ? partial->rank / 2 : -1;
    else partial->group_rank = partial->rank - extra;
    partial->nsteps = lp_partial_steps(algorithm, partial->size);
    reduction->round = -1;
    /* The largest message is the whole vector (the fold); a receive and a send per chunk. */
    const int64_t chunks = lp_mpi_chunk_count(partial->count) + 1;
    reduction->requests = malloc(sizeof(MPI_Request) * (size_t)(2 * chunks));
    if (reduction->requests == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the reduction's requests");
    if (algorithm == LP_PARTIAL_ALGORITHM_HALVING_DOUBLING && partial->size > 1) {
        reduction->scratch = malloc(partial->count > 0 ? (size_t)(partial->count * partial->width) : 1);
        if (reduction->scratch == NULL)
            return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the reduction's scratch vector");
    }
    return LP_SUCCESS;
}

void lp_partial_reduction_free(lp_partial_t partial)
{
    free(partial->reduction.requests);
    free(partial->reduction.scratch);
    partial->reduction.requests = NULL;
    partial->reduction.scratch = NULL;
}

static char *buffer_of(struct lp_partial_reduction *reduction, enum lp_partial_buffer which)
{
    switch (which) {
    case LP_PARTIAL_CONTRIBUTION: return (char *)reduction->contribution;
    case LP_PARTIAL_RESULT: return reduction->result;
    case LP_PARTIAL_SCRATCH: return reduction->scratch;
    default: return NULL;
    }
}

/* Posts the current step's receive and send, in chunks of at most one MPI count. */
static lp_result_t start_step(lp_partial_t partial)
{
    struct lp_partial_reduction *reduction = &partial->reduction;
    const struct lp_partial_step *step = &reduction->current;
    const MPI_Datatype type = lp_mpi_datatype(partial->datatype);
    const int64_t width = partial->width;
    reduction->nrequests = reduction->nreceives = 0;
    if (step->receive_from != MPI_PROC_NULL) {
        char *in = buffer_of(reduction, step->receive_into) + step->receive_offset * width;
        for (struct lp_chunks c = lp_mpi_chunks(step->receive_length); lp_chunks_next(&c);)
            LP_TRY_MPI(MPI_Irecv(in + c.offset * width, c.count, type, step->receive_from, LP_REDUCE_TAG, partial->comm,
                                 &reduction->requests[reduction->nrequests++]));
        reduction->nreceives = reduction->nrequests;
    }
    if (step->send_to != MPI_PROC_NULL) {
        const char *out = buffer_of(reduction, step->send_from) + step->send_offset * width;
        for (struct lp_chunks c = lp_mpi_chunks(step->send_length); lp_chunks_next(&c);) {
            LP_TRY_MPI(MPI_Isend(out + c.offset * width, c.count, type, step->send_to, LP_REDUCE_TAG, partial->comm,
                                 &reduction->requests[reduction->nrequests++]));
            lp_partial_count_event(&partial->counters.reduction_messages_sent);
        }
    }
    return LP_SUCCESS;
}

/* Plans and posts step k, or marks the data done after the last one. */
static lp_result_t begin_step(lp_partial_t partial, int k)
{
    struct lp_partial_reduction *reduction = &partial->reduction;
    reduction->step = k;
    reduction->nrequests = reduction->nreceives = 0;
    if (k >= partial->nsteps) return LP_SUCCESS;
    plan_step(partial, k, &reduction->current);
    return start_step(partial);
}

/* Folds what the step received into the result. A ring step receives the
 * partial sum into the result and adds this rank's own share; the halving
 * receives into scratch and adds it to the result's kept half. */
static lp_result_t reduce_received(lp_partial_t partial)
{
    struct lp_partial_reduction *reduction = &partial->reduction;
    const struct lp_partial_step *step = &reduction->current;
    if (step->reduce_from == LP_PARTIAL_NOWHERE) return LP_SUCCESS;
    const int64_t width = partial->width;
    const char *in = buffer_of(reduction, step->reduce_from) + step->reduce_from_offset * width;
    return lp_reduce_local(in, reduction->result + step->reduce_offset * width, step->reduce_length,
                           partial->datatype, partial->op);
}

static lp_result_t start_reduction(lp_partial_t partial, int64_t round)
{
    struct lp_partial_reduction *reduction = &partial->reduction;
    reduction->round = round;
    reduction->meta_request = MPI_REQUEST_NULL;

    pthread_mutex_lock(&partial->lock);
    lp_partial_take_snapshot(partial, reduction);
    pthread_mutex_unlock(&partial->lock);

    LP_TRY_MPI(MPI_Iallreduce(reduction->meta_in, reduction->meta_out, 2, MPI_INT64_T, MPI_SUM, partial->comm,
                              &reduction->meta_request));
    /* The ring reads the contribution where it is; the other algorithms,
     * and a single rank, start from a copy in the result. */
    const int copies = partial->size == 1 || partial->algorithm != LP_PARTIAL_ALGORITHM_RING;
    if (copies && partial->count > 0 && reduction->result != reduction->contribution)
        memcpy(reduction->result, reduction->contribution, (size_t)(partial->count * partial->width));
    return begin_step(partial, 0);
}

static void finish_round(lp_partial_t partial)
{
    struct lp_partial_reduction *reduction = &partial->reduction;
    pthread_mutex_lock(&partial->lock);
    struct lp_partial_slot *slot = lp_partial_slot_of(partial, reduction->round);
    slot->contributions = reduction->meta_out[0];
    slot->fresh = reduction->meta_out[1];
    slot->quorum_met = !(partial->forced_first <= reduction->round && reduction->round < partial->flush_round);
    slot->round = reduction->round;
    /* Counted before the round is delivered, so that a caller who reads
     * the counters after its round sees that round in them. */
    lp_partial_count_event(&partial->counters.rounds);
    __atomic_store_n(&partial->counters.reduction_steps_last_round, (int64_t)partial->nsteps, __ATOMIC_RELAXED);
    lp_partial_complete_round(partial, reduction->round, reduction->result);
    if (reduction->result != slot->data) slot->round = -1; /* the result went to a caller's buffer only */
    lp_partial_return_lent(partial, reduction);
    pthread_cond_broadcast(&partial->changed);
    pthread_mutex_unlock(&partial->lock);
    lp_partial_reduction_reset(reduction);
}

void lp_partial_reduction_reset(struct lp_partial_reduction *reduction)
{
    reduction->nrequests = reduction->nreceives = 0;
    reduction->round = -1;
}

lp_result_t lp_partial_advance_reduction(lp_partial_t partial, int *active)
{
    struct lp_partial_reduction *reduction = &partial->reduction;
    if (reduction->round < 0) {
        pthread_mutex_lock(&partial->lock);
        int64_t next = partial->snapshot_through + 1;
        int fired = next <= partial->fired_through;
        pthread_mutex_unlock(&partial->lock);
        if (!fired) return LP_SUCCESS;
        *active = 1;
        return start_reduction(partial, next);
    }
    int done = 0;
    while (reduction->step < partial->nsteps) {
        LP_TRY(lp_testall(reduction->requests, reduction->nrequests, &done));
        if (!done) return LP_SUCCESS;
        *active = 1;
        LP_TRY(reduce_received(partial));
        LP_TRY(begin_step(partial, reduction->step + 1));
    }
    LP_TRY_MPI(MPI_Test(&reduction->meta_request, &done, MPI_STATUS_IGNORE));
    if (!done) return LP_SUCCESS;
    *active = 1;
    finish_round(partial);
    return LP_SUCCESS;
}
