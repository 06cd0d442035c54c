/* The trigger of a partial allreduce: which rounds have fired, how far
 * behind the slowest rank is, and the failures, flushes and close, without
 * a coordinator.
 *
 * Round r has a host, rank r mod P. Every rank counts its arrival at r
 * there once: one_sided with MPI_Rget_accumulate(+1) on the host's window
 * (passive target, so no software runs on the host), point_to_point with
 * an ARRIVE message that the host's thread counts. The arrival that brings
 * the count to the quorum fires r; the one that brings it to P shows that
 * every rank has called r (the staleness bound). Whoever sees that, the
 * arriving rank or the host, announces it in a NOTICE down a binomial tree
 * rooted at itself: each rank forwards to at most ceil(log2 P) others, and
 * receives one notice per announcement. Quorum at r implies quorum at every
 * earlier round, so notices merge by maximum, in any order.
 *
 * Flush and close need every rank: agreement.c runs them, from this
 * thread's steps. */
#include "partial/partial.h"

#include <stdlib.h>
#include <string.h>

const char *const lp_partial_trigger_names[LP_PARTIAL_NUM_TRIGGERS] = {
    [LP_PARTIAL_TRIGGER_AUTO] = "auto",
    [LP_PARTIAL_TRIGGER_ONE_SIDED] = "one_sided",
    [LP_PARTIAL_TRIGGER_POINT_TO_POINT] = "point_to_point",
};

enum { DRAIN_BATCH = 64 };

struct lp_partial_send {
    MPI_Request request;
    struct lp_partial_control message;
    struct lp_partial_send *next;
};

LP_DEFINE_NAME_LOOKUP(lp_partial_trigger_name, lp_partial_trigger_from_name, lp_partial_trigger_t,
                      lp_partial_trigger_names, LP_PARTIAL_NUM_TRIGGERS, "partial allreduce trigger")

/* Collective: whether every rank of comm is on one shared-memory node. */
static lp_result_t all_share_memory(MPI_Comm comm, int *shared)
{
    MPI_Comm node = MPI_COMM_NULL;
    LP_TRY_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    int node_size = 0, size = 0;
    MPI_Comm_size(node, &node_size);
    MPI_Comm_size(comm, &size);
    MPI_Comm_free(&node);
    *shared = node_size == size;
    return LP_SUCCESS;
}

lp_result_t lp_partial_requested_trigger(lp_partial_trigger_t requested, lp_partial_trigger_t *trigger)
{
    *trigger = requested;
    if ((int)requested < 0 || requested >= LP_PARTIAL_NUM_TRIGGERS)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "trigger %d is not a partial allreduce trigger", (int)requested);
    if (requested != LP_PARTIAL_TRIGGER_AUTO) return LP_SUCCESS;
    int named = LP_PARTIAL_TRIGGER_AUTO;
    LP_TRY(lp_env_choice("LP_PARTIAL_TRIGGER", lp_partial_trigger_names, LP_PARTIAL_NUM_TRIGGERS, &named));
    *trigger = (lp_partial_trigger_t)named;
    return LP_SUCCESS;
}

lp_result_t lp_partial_resolve_trigger(MPI_Comm comm, lp_partial_trigger_t *trigger, int *shared_memory)
{
    int shared = 0;
    LP_TRY(all_share_memory(comm, &shared));
    if (shared_memory != NULL) *shared_memory = shared;
    /* Across nodes the atomics go through the network, and an MPI that
     * emulates them in software there needs the target's progress, the
     * very cost they should save; messages are the safer default. */
    if (*trigger == LP_PARTIAL_TRIGGER_AUTO)
        *trigger = shared ? LP_PARTIAL_TRIGGER_ONE_SIDED : LP_PARTIAL_TRIGGER_POINT_TO_POINT;
    return LP_SUCCESS;
}

lp_result_t lp_partial_select_trigger(lp_comm_t comm, lp_partial_trigger_t *trigger)
{
    LP_TRY(lp_check_comm(comm));
    if (trigger == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    /* The name is checked on every rank, and the failure agreed, before
     * the collective test. */
    lp_result_t rc = lp_comm_agree(comm, lp_partial_requested_trigger(LP_PARTIAL_TRIGGER_AUTO, trigger), NULL, 0);
    if (rc != LP_SUCCESS) return rc;
    return lp_partial_resolve_trigger(comm->comm, trigger, NULL);
}

/* ---- setup and teardown ---- */

void lp_partial_trigger_reset_counters(lp_partial_t partial)
{
    if (partial->window_base != NULL) {
        /* Every rank's arrivals are complete (the agreement), and none comes
         * before the barrier that follows, so plain stores are safe here;
         * MPI_Win_sync makes them the window's public copy. */
        memset(partial->window_base, 0, (size_t)partial->slots * sizeof(int64_t));
        MPI_Win_sync(partial->window);
    }
    if (partial->host_counts != NULL)
        for (int s = 0; s < partial->slots; s++)
            partial->host_counts[s] = (struct lp_partial_host_count){.round = -1, .arrivals = 0};
}

static lp_result_t create_window(lp_partial_t partial)
{
    MPI_Info info = MPI_INFO_NULL;
    LP_TRY_MPI(MPI_Info_create(&info));
    MPI_Info_set(info, "accumulate_ops", "same_op_no_op");
    MPI_Info_set(info, "accumulate_ordering", "none");
    const MPI_Aint bytes = (MPI_Aint)partial->slots * (MPI_Aint)sizeof(int64_t);
    /* On one node, a shared-memory window: Open MPI 4.1's general one
     * (osc/rdma) names its backing file by communicator id alone, which
     * disjoint sub-communicators share, so their windows collide. */
    int rc = partial->shared_memory
                 ? MPI_Win_allocate_shared(bytes, (int)sizeof(int64_t), info, partial->comm, &partial->window_base,
                                           &partial->window)
                 : MPI_Win_allocate(bytes, (int)sizeof(int64_t), info, partial->comm, &partial->window_base,
                                    &partial->window);
    MPI_Info_free(&info);
    if (rc != MPI_SUCCESS) {
        partial->window = MPI_WIN_NULL;
        partial->window_base = NULL;
        /* E.g. Open MPI 4.1 across nodes over TCP: osc/rdma needs network
         * atomics, and osc/pt2pt refuses MPI_THREAD_MULTIPLE. */
        char reason[MPI_MAX_ERROR_STRING] = "";
        int length = 0;
        MPI_Error_string(rc, reason, &length);
        return lp_fail(LP_ERR_UNSUPPORTED, "the one_sided trigger needs a one-sided window, which this MPI cannot "
                       "make on this communicator (%s: %s); use the point_to_point trigger "
                       "(trigger=\"point_to_point\", or LP_PARTIAL_TRIGGER=point_to_point)",
                       partial->shared_memory ? "MPI_Win_allocate_shared" : "MPI_Win_allocate", reason);
    }
    MPI_Win_set_errhandler(partial->window, MPI_ERRORS_RETURN);
    memset(partial->window_base, 0, (size_t)partial->slots * sizeof(int64_t));
    LP_TRY_MPI(MPI_Win_lock_all(MPI_MODE_NOCHECK, partial->window));
    MPI_Win_sync(partial->window);
    int *model = NULL, found = 0;
    LP_TRY_MPI(MPI_Win_get_attr(partial->window, MPI_WIN_MODEL, &model, &found));
    if (!found || *model != MPI_WIN_UNIFIED)
        return lp_fail(LP_ERR_UNSUPPORTED, "the one_sided trigger needs a window in MPI's unified memory model, "
                       "which this MPI does not give here; use the point_to_point trigger");
    return LP_SUCCESS;
}

lp_result_t lp_partial_trigger_init(lp_partial_t partial)
{
    partial->arrival_request = partial->control_request = partial->agreement_request = MPI_REQUEST_NULL;
    partial->forwarding = 1;
    /* A rank calls round c only once every rank has called c - S - 1
     * (S = max_staleness), and arrives at rounds one at a time, so every
     * arrival at rounds <= c - S - 2 is complete by then: slots spanning
     * S + 2 rounds per host are never shared by two live rounds. */
    const int64_t span = (int64_t)partial->max_staleness + 2;
    partial->slots = (int)((span + partial->size - 1) / partial->size) + 1;
    partial->sent_to = calloc((size_t)partial->size, sizeof(int64_t));
    partial->agreement_all = calloc((size_t)partial->size * (LP_AGREEMENT_WORDS + 1), sizeof(int64_t));
    if (partial->trigger == LP_PARTIAL_TRIGGER_POINT_TO_POINT)
        partial->host_counts = calloc((size_t)partial->slots, sizeof *partial->host_counts);
    if (partial->sent_to == NULL || partial->agreement_all == NULL ||
        (partial->trigger == LP_PARTIAL_TRIGGER_POINT_TO_POINT && partial->host_counts == NULL))
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the trigger of %d ranks", partial->size);
    lp_partial_trigger_reset_counters(partial);
    LP_TRY_MPI(MPI_Comm_dup(partial->comm, &partial->agreement_comm));
    MPI_Comm_set_errhandler(partial->agreement_comm, MPI_ERRORS_RETURN);
    if (partial->trigger == LP_PARTIAL_TRIGGER_ONE_SIDED) LP_TRY(create_window(partial));
    return LP_SUCCESS;
}

static void free_window(lp_partial_t partial)
{
    if (partial->window == MPI_WIN_NULL) return;
    MPI_Win_unlock_all(partial->window);
    MPI_Win_free(&partial->window);
    partial->window_base = NULL;
}

void lp_partial_trigger_free(lp_partial_t partial)
{
    free_window(partial); /* only where the thread never ran: it frees the window itself */
    if (partial->agreement_comm != MPI_COMM_NULL) MPI_Comm_free(&partial->agreement_comm);
}

/* ---- control messages ---- */

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
    partial->sent_to[destination]++;
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

static lp_result_t post_control_receive(lp_partial_t partial)
{
    return lp_check_mpi(MPI_Irecv(&partial->control_message, LP_CONTROL_WORDS, MPI_INT64_T, MPI_ANY_SOURCE,
                                  LP_CONTROL_TAG, partial->comm, &partial->control_request),
                        "MPI_Irecv");
}

/* Sends a notice on to this rank's children in the tree rooted at its root. */
static lp_result_t forward_notice(lp_partial_t partial, const struct lp_partial_control *notice)
{
    const int size = partial->size, root = (int)notice->notice.root;
    const int relative = (partial->rank - root + size) % size;
    /* In a binomial tree a rank's children differ from it in the bits
     * below its lowest set bit; the root's, in every bit. */
    int below = 1;
    while (below < size && !(relative & below)) below <<= 1;
    for (int bit = below >> 1; bit >= 1; bit >>= 1)
        if (relative + bit < size) LP_TRY(send_control(partial, (relative + bit + root) % size, notice));
    return LP_SUCCESS;
}

/* ---- what this rank knows ---- */

int lp_partial_adopt(lp_partial_t partial, int64_t fired_through, int64_t min_calls, lp_result_t failure, int failed_rank)
{
    int news = 0;
    pthread_mutex_lock(&partial->lock);
    if (fired_through > partial->fired_through) partial->fired_through = fired_through, news = 1;
    if (min_calls > partial->min_calls) partial->min_calls = min_calls, news = 1;
    if (failure != LP_SUCCESS && partial->failure == LP_SUCCESS) {
        partial->failure = failure;
        partial->failed_rank = failed_rank;
        lp_partial_fail_waiters(partial, failure);
        news = 1;
    }
    if (news) pthread_cond_broadcast(&partial->changed);
    pthread_mutex_unlock(&partial->lock);
    return news;
}

/* Starts a notice rooted here with everything this rank knows. */
static lp_result_t announce(lp_partial_t partial)
{
    if (!partial->forwarding) return LP_SUCCESS; /* the close agreement told every rank */
    struct lp_partial_control notice;
    memset(&notice, 0, sizeof notice); /* the unused words too */
    notice.type = LP_MSG_NOTICE;
    notice.notice.root = partial->rank;
    pthread_mutex_lock(&partial->lock);
    notice.notice.fired_through = partial->fired_through;
    notice.notice.min_calls = partial->min_calls;
    notice.notice.failure = partial->failure;
    notice.notice.failed_rank = partial->failed_rank;
    pthread_mutex_unlock(&partial->lock);
    return forward_notice(partial, &notice);
}

/* Arrival number arrivals (1-based) at round was just counted. */
static int counted(lp_partial_t partial, int64_t round, int64_t arrivals)
{
    int news = 0;
    if (arrivals == partial->quorum) news |= lp_partial_adopt(partial, round, 0, LP_SUCCESS, 0);
    if (arrivals == partial->size) news |= lp_partial_adopt(partial, -1, round + 1, LP_SUCCESS, 0);
    return news;
}

/* point_to_point: the host counts an arrival at round. */
static int host_counts_arrival(lp_partial_t partial, int64_t round)
{
    if (!partial->forwarding || round < partial->epoch_start) return 0; /* from before the last flush */
    struct lp_partial_host_count *slot = &partial->host_counts[(round / partial->size) % partial->slots];
    if (slot->round > round) return 0; /* cannot happen within the staleness bound; harmless if it did */
    if (slot->round < round) slot->round = round, slot->arrivals = 0;
    return counted(partial, round, ++slot->arrivals);
}

/* Counts this rank's calls up to calls at their hosts; *news when this
 * rank learnt something to announce. */
static lp_result_t arrive(lp_partial_t partial, int64_t calls, int *news, int *active)
{
    const int size = partial->size;
    if (partial->trigger == LP_PARTIAL_TRIGGER_POINT_TO_POINT) {
        for (; partial->arrived_through < calls; partial->arrived_through++) {
            const int64_t round = partial->arrived_through;
            const int host = (int)(round % size);
            *active = 1;
            if (host == partial->rank) {
                *news |= host_counts_arrival(partial, round);
                continue;
            }
            struct lp_partial_control message;
            memset(&message, 0, sizeof message);
            message.type = LP_MSG_ARRIVE;
            message.value = round;
            LP_TRY(send_control(partial, host, &message));
        }
        return LP_SUCCESS;
    }
    if (partial->arrival_request != MPI_REQUEST_NULL) {
        int done = 0;
        LP_TRY_MPI(MPI_Test(&partial->arrival_request, &done, MPI_STATUS_IGNORE));
        if (!done) return LP_SUCCESS;
        *active = 1;
        /* Every earlier round of this slot has had all P arrivals since the
         * last reset, so the count modulo P is this round's. */
        *news |= counted(partial, partial->arrived_through, partial->arrival_before % size + 1);
        partial->arrived_through++;
    }
    if (partial->arrived_through < calls) {
        static const int64_t one = 1;
        const int64_t round = partial->arrived_through;
        const MPI_Aint slot = (MPI_Aint)((round / size) % partial->slots);
        LP_TRY_MPI(MPI_Rget_accumulate(&one, 1, MPI_INT64_T, &partial->arrival_before, 1,
                                       MPI_INT64_T, (int)(round % size), slot, 1, MPI_INT64_T, MPI_SUM,
                                       partial->window, &partial->arrival_request));
        lp_partial_count_event(&partial->counters.rma_operations);
        *active = 1;
    }
    return LP_SUCCESS;
}

static lp_result_t drain_control(lp_partial_t partial, int *news, int *active)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        int arrived = 0;
        LP_TRY_MPI(MPI_Test(&partial->control_request, &arrived, MPI_STATUS_IGNORE));
        if (!arrived) return LP_SUCCESS;
        *active = 1;
        partial->received_total++;
        lp_partial_count_event(&partial->counters.control_messages_received);
        const struct lp_partial_control message = partial->control_message;
        LP_TRY(post_control_receive(partial));
        if (message.type == LP_MSG_ARRIVE) {
            *news |= host_counts_arrival(partial, message.value);
        } else if (message.type == LP_MSG_NOTICE) {
            lp_partial_adopt(partial, message.notice.fired_through, message.notice.min_calls,
                  (lp_result_t)message.notice.failure, (int)message.notice.failed_rank);
            if (partial->forwarding) LP_TRY(forward_notice(partial, &message));
        }
    }
    return LP_SUCCESS;
}

lp_result_t lp_partial_trigger_step(lp_partial_t partial, int *active)
{
    if (partial->control_request == MPI_REQUEST_NULL) LP_TRY(post_control_receive(partial)); /* the first step */
    pthread_mutex_lock(&partial->lock);
    const int64_t calls = partial->calls;
    int news = partial->local_error != LP_SUCCESS && !partial->local_error_sent;
    partial->local_error_sent = partial->local_error != LP_SUCCESS;
    pthread_mutex_unlock(&partial->lock);
    *active |= news;
    /* Arrivals pause while an agreement runs: it counts the calls itself. */
    if (partial->agreement == LP_AGREEMENT_NONE) LP_TRY(arrive(partial, calls, &news, active));
    LP_TRY(drain_control(partial, &news, active));
    if (news) LP_TRY(announce(partial));
    LP_TRY(lp_partial_advance_agreement(partial, calls, active));
    return reap_sends(partial, 0);
}

/* ---- the thread's end ---- */

int lp_partial_trigger_shut_down(lp_partial_t partial, int abandoning)
{
    if (!abandoning) {
        if (partial->control_request != MPI_REQUEST_NULL) {
            MPI_Cancel(&partial->control_request);
            MPI_Wait(&partial->control_request, MPI_STATUS_IGNORE);
        }
        reap_sends(partial, 1);
        /* Every rank's thread comes here after the close agreement, so
         * the collective free is matched even on a rank whose user has
         * not called destroy yet (a peer's close ended its flush). */
        free_window(partial);
        return 0;
    }
    int held = lp_partial_abandon_request(&partial->control_request, 1);
    /* Sends that have not finished stay listed, their messages allocated,
     * with the object that MPI may still read them from. */
    reap_sends(partial, 0);
    int sends_held = 0;
    for (struct lp_partial_send *send = partial->sends; send != NULL; send = send->next)
        sends_held |= lp_partial_abandon_request(&send->request, 0);
    if (!sends_held) reap_sends(partial, 0); /* every request is null now: frees them all */
    held |= sends_held;
    /* Neither a one-sided request nor a nonblocking collective can be
     * cancelled: one not complete yet may still write its result here. */
    MPI_Request *unfinished[] = {&partial->arrival_request, &partial->agreement_request};
    for (size_t i = 0; i < sizeof unfinished / sizeof *unfinished; i++) {
        int done = 1;
        if (*unfinished[i] != MPI_REQUEST_NULL) MPI_Test(unfinished[i], &done, MPI_STATUS_IGNORE);
        held |= !done;
    }
    /* The window stays as it is, locked, until MPI_Finalize: unlocking
     * waits for this rank's operations on targets that may be gone, and
     * freeing it is collective. Its memory is MPI's, not the object's. */
    partial->window = MPI_WIN_NULL;
    partial->window_base = NULL;
    return held;
}
