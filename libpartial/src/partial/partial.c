/* Partial allreduce: the public entry points. Creation validates and
 * agrees on the arguments collectively; a call validates locally, and a
 * rank whose call is bad reports it through the protocol, so the object
 * fails on every rank instead of leaving the others waiting. The user
 * thread only touches shared state under partial->lock; all MPI traffic
 * belongs to the progress thread (progress.c). */
#include "partial/partial.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- live objects, released when MPI finalizes ---- */

/* Stops the thread without the collective close handshake (peers may be
 * gone) and frees the MPI resources. The memory stays, so that a later
 * lp_partial_destroy (or a Python finalizer) finds a closed object. */
static void release_locally(lp_partial_t partial)
{
    if (partial->released) return;
    pthread_mutex_lock(&partial->lock);
    partial->abandon = 1;
    pthread_cond_signal(&partial->wake);
    pthread_mutex_unlock(&partial->lock);
    lp_partial_join_thread(partial);
    lp_partial_trigger_free(partial);
    MPI_Comm_free(&partial->comm);
    partial->released = 1;
}

/* At MPI_Finalize, or at lp_partial_release_all before it. Destroy
 * unlists an object before it releases it, so only this releases listed
 * objects. */
static void release_listed(struct lp_registry_link *link)
{
    release_locally(LP_CONTAINER_OF(link, struct lp_partial_s, registry));
}

static struct lp_registry live_objects = LP_REGISTRY_INIT(release_listed);

/* MPICH turns its thread safety off before MPI_Finalize deletes
 * MPI_COMM_SELF's attributes, so at the finalize hook the progress threads
 * of several objects may enter MPI together; this is the safe moment. */
lp_result_t lp_partial_release_all(void)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) lp_registry_release_all(&live_objects);
    return LP_SUCCESS;
}

/* ---- deadlines ---- */

struct deadline {
    int set;
    struct timespec at; /* CLOCK_MONOTONIC, the clock of the condition variables */
};

/* Longer than any job runs; past it the tv_sec arithmetic could overflow
 * time_t, so a larger timeout means no deadline at all. */
#define LONGEST_DEADLINE_SECONDS 1e9

static struct deadline deadline_after(double seconds)
{
    struct deadline deadline = {0};
    if (!(seconds > 0) || !(seconds < LONGEST_DEADLINE_SECONDS)) return deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline.at);
    double whole = floor(seconds);
    deadline.at.tv_sec += (time_t)whole;
    deadline.at.tv_nsec += (long)((seconds - whole) * 1e9);
    deadline.at.tv_sec += deadline.at.tv_nsec / 1000000000;
    deadline.at.tv_nsec %= 1000000000;
    deadline.set = 1;
    return deadline;
}

/* Waits on partial->changed (lock held); returns 0 when the deadline passed. */
static int wait_for_change(lp_partial_t partial, const struct deadline *deadline)
{
    if (!deadline->set) {
        pthread_cond_wait(&partial->changed, &partial->lock);
        return 1;
    }
    return pthread_cond_timedwait(&partial->changed, &partial->lock, &deadline->at) != ETIMEDOUT;
}

/* ---- object lifetime ---- */

static lp_result_t init_sync(lp_partial_t partial)
{
    pthread_condattr_t attributes;
    if (pthread_condattr_init(&attributes) != 0) return lp_fail(LP_ERR_INTERNAL, "pthread_condattr_init failed");
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    int rc = pthread_mutex_init(&partial->lock, NULL);
    rc |= pthread_cond_init(&partial->changed, &attributes);
    rc |= pthread_cond_init(&partial->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    return rc == 0 ? LP_SUCCESS : lp_fail(LP_ERR_INTERNAL, "cannot create the partial allreduce's locks");
}

/* Objects whose abandoned requests MPI may still write into. They are
 * never freed, a leak on a failure path rather than a corruption, and stay
 * listed so that the memory is still reachable rather than lost. */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lp_partial_s *kept_for_mpi = NULL;

static void free_object(lp_partial_t partial)
{
    if (partial == NULL) return;
    if (partial->mpi_holds_memory) {
        pthread_mutex_lock(&kept_lock);
        partial->kept_next = kept_for_mpi;
        kept_for_mpi = partial;
        pthread_mutex_unlock(&kept_lock);
        return;
    }
    lp_partial_free_buffers(partial);
    lp_partial_reduction_free(partial);
    free(partial->sent_to);
    free(partial->agreement_all);
    free(partial->host_counts);
    pthread_mutex_destroy(&partial->lock);
    pthread_cond_destroy(&partial->changed);
    pthread_cond_destroy(&partial->wake);
    free(partial);
}

static lp_result_t allocate_object(int64_t count, lp_datatype_t datatype, lp_op_t op, lp_partial_mode_t mode,
                                   int quorum, int max_staleness, double timeout, lp_partial_algorithm_t algorithm,
                                   lp_partial_trigger_t trigger, lp_comm_t comm, lp_partial_t *out)
{
    struct lp_partial_s *partial = calloc(1, sizeof *partial);
    if (partial == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a partial allreduce");
    partial->comm = MPI_COMM_NULL;
    partial->rank = comm->rank;
    partial->size = comm->size;
    partial->count = count;
    partial->width = lp_datatype_size(datatype);
    partial->datatype = datatype;
    partial->op = op;
    partial->mode = mode;
    partial->quorum = quorum;
    partial->max_staleness = max_staleness;
    partial->timeout = timeout;
    /* A slow rank's late call reads a round at most max_staleness + 1
     * behind the newest one that can fire (see docs/partial.md). With a
     * quorum of every rank no call is ever late, so one slot suffices, and
     * it stays in cache. */
    partial->ring_size = quorum == comm->size ? 1 : max_staleness + 2;
    partial->fired_through = partial->completed_through = partial->snapshot_through = -1;
    partial->flush_round = partial->forced_first = -1;
    partial->trigger = trigger;
    partial->window = MPI_WIN_NULL;
    partial->agreement_comm = MPI_COMM_NULL;
    *out = partial;
    lp_result_t rc = init_sync(partial);
    if (rc == LP_SUCCESS) rc = lp_partial_alloc_buffers(partial);
    if (rc == LP_SUCCESS) rc = lp_partial_reduction_init(partial, algorithm);
    return rc;
}

static int resolve_quorum(lp_partial_mode_t mode, int quorum, int size)
{
    switch (mode) {
    case LP_PARTIAL_SOLO: return 1;
    case LP_PARTIAL_MAJORITY: return (size + 1) / 2;
    case LP_PARTIAL_SYNC: return size;
    case LP_PARTIAL_QUORUM: return quorum >= 1 && quorum <= size ? quorum : 0;
    default: return 0;
    }
}

static lp_result_t check_create_args(int64_t count, lp_datatype_t datatype, lp_op_t op, lp_partial_mode_t mode,
                                     int quorum, int max_staleness, int size, lp_partial_t *out)
{
    if (out == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    LP_TRY(lp_check_reduction_args(NULL, NULL, 0, datatype, op));
    if (count < 0) return lp_fail(LP_ERR_INVALID_ARGUMENT, "count %lld is negative", (long long)count);
    /* Each buffer is count * width bytes: a count past that product's range
     * would wrap it into a small allocation that the reductions overrun. */
    if (count > INT64_MAX / lp_datatype_size(datatype))
        return lp_fail(LP_ERR_NO_MEMORY, "count %lld of %lld-byte elements is more than memory can hold",
                       (long long)count, (long long)lp_datatype_size(datatype));
    if ((int)mode < 0 || mode >= LP_PARTIAL_NUM_MODES)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "mode %d is not a partial allreduce mode", (int)mode);
    if (resolve_quorum(mode, quorum, size) == 0)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "quorum %d is not in 1..%d", quorum, size);
    if (max_staleness < -1 || max_staleness > 1000000)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "max_staleness %d is not in 0..1000000 (or -1, the default)",
                       max_staleness);
    int provided = MPI_THREAD_SINGLE;
    LP_TRY_MPI(MPI_Query_thread(&provided));
    if (provided < MPI_THREAD_MULTIPLE)
        return lp_fail(LP_ERR_UNSUPPORTED, "the partial allreduce's progress thread needs MPI_THREAD_MULTIPLE; "
                       "initialize MPI with MPI_Init_thread(MPI_THREAD_MULTIPLE)");
    return LP_SUCCESS;
}

/* The algorithm auto stands for: LP_PARTIAL_ALGORITHM's name, else the cost model's choice. */
static lp_result_t resolve_algorithm(const lp_partial_config_t *config, int64_t count, lp_datatype_t datatype,
                                     int size, lp_partial_algorithm_t *algorithm)
{
    *algorithm = config->algorithm;
    if ((int)*algorithm < 0 || *algorithm >= LP_PARTIAL_NUM_ALGORITHMS)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "algorithm %d is not a partial allreduce algorithm", (int)*algorithm);
    if (*algorithm != LP_PARTIAL_ALGORITHM_AUTO) return LP_SUCCESS;
    int named = LP_PARTIAL_ALGORITHM_AUTO;
    LP_TRY(lp_env_choice("LP_PARTIAL_ALGORITHM", lp_partial_algorithm_names, LP_PARTIAL_NUM_ALGORITHMS, &named));
    *algorithm = (lp_partial_algorithm_t)named;
    if (*algorithm != LP_PARTIAL_ALGORITHM_AUTO) return LP_SUCCESS;
    struct lp_cost_model model = {0};
    LP_TRY(lp_cost_model_get(&model));
    *algorithm = lp_partial_choose(count, lp_datatype_size(datatype), size, &model);
    return LP_SUCCESS;
}

static const char *const mode_names[LP_PARTIAL_NUM_MODES] = {
    [LP_PARTIAL_SOLO] = "solo", [LP_PARTIAL_MAJORITY] = "majority", [LP_PARTIAL_SYNC] = "sync",
    [LP_PARTIAL_QUORUM] = "quorum"};
static const struct lp_param create_params[] = {
    LP_PARAM_INT("count"), LP_PARAM_NAMED("dtype", lp_datatype_names), LP_PARAM_NAMED("op", lp_op_names),
    LP_PARAM_NAMED("mode", mode_names), LP_PARAM_INT("quorum"), LP_PARAM_INT("max_staleness"),
    LP_PARAM_NAMED("algorithm", lp_partial_algorithm_names), LP_PARAM_NAMED("trigger", lp_partial_trigger_names)};
enum { NUM_CREATE_PARAMS = sizeof create_params / sizeof *create_params };

lp_result_t lp_partial_create(int64_t count, lp_datatype_t datatype, lp_op_t op, lp_partial_mode_t mode,
                              int quorum, int max_staleness, double timeout_seconds, lp_comm_t comm,
                              lp_partial_t *out)
{
    return lp_partial_create_config(count, datatype, op, mode, quorum, max_staleness, timeout_seconds, comm, NULL,
                                    out);
}

lp_result_t lp_partial_create_config(int64_t count, lp_datatype_t datatype, lp_op_t op, lp_partial_mode_t mode,
                                     int quorum, int max_staleness, double timeout_seconds, lp_comm_t comm,
                                     const lp_partial_config_t *config, lp_partial_t *out)
{
    LP_TRY(lp_check_comm(comm));
    if (out != NULL) *out = NULL;
    static const lp_partial_config_t defaults = LP_PARTIAL_CONFIG_INIT;
    if (config == NULL) config = &defaults;
    lp_result_t local = check_create_args(count, datatype, op, mode, quorum, max_staleness, comm->size, out);
    if (local == LP_SUCCESS && config->size < sizeof(lp_partial_config_t))
        local = lp_fail(LP_ERR_INVALID_ARGUMENT, "config->size %zu is not sizeof(lp_partial_config_t) (%zu): "
                        "start from LP_PARTIAL_CONFIG_INIT", config->size, sizeof(lp_partial_config_t));
    lp_partial_algorithm_t algorithm = LP_PARTIAL_ALGORITHM_AUTO;
    if (local == LP_SUCCESS) local = resolve_algorithm(config, count, datatype, comm->size, &algorithm);
    lp_partial_trigger_t trigger = LP_PARTIAL_TRIGGER_AUTO;
    if (local == LP_SUCCESS) local = lp_partial_requested_trigger(config->trigger, &trigger);
    const int staleness = max_staleness < 0 ? LP_PARTIAL_DEFAULT_MAX_STALENESS : max_staleness;
    const int resolved = resolve_quorum(mode, quorum, comm->size);
    lp_partial_t partial = NULL;
    if (local == LP_SUCCESS)
        local = allocate_object(count, datatype, op, mode, resolved, staleness, timeout_seconds, algorithm, trigger,
                                comm, &partial);
    const int64_t params[] = {count, (int64_t)datatype, (int64_t)op, (int64_t)mode, resolved, staleness,
                              (int64_t)algorithm, (int64_t)trigger};
    _Static_assert(sizeof params / sizeof *params == NUM_CREATE_PARAMS, "one value per agreed parameter");
    lp_result_t rc = lp_comm_agree_max(comm, local, params, create_params, NUM_CREATE_PARAMS, NULL, 0);
    if (rc != LP_SUCCESS) {
        free_object(partial);
        return rc;
    }
    /* Every rank agreed, so every rank makes the collective calls below. */
    local = lp_partial_resolve_trigger(comm->comm, &partial->trigger, &partial->shared_memory);
    if (local == LP_SUCCESS) local = lp_check_mpi(MPI_Comm_dup(comm->comm, &partial->comm), "MPI_Comm_dup");
    if (local == LP_SUCCESS) {
        MPI_Comm_set_errhandler(partial->comm, MPI_ERRORS_RETURN);
        local = lp_partial_trigger_init(partial);
        if (local == LP_SUCCESS) local = lp_partial_start_thread(partial);
        if (local != LP_SUCCESS) {
            lp_partial_trigger_free(partial);
            MPI_Comm_free(&partial->comm);
        }
    }
    rc = lp_comm_agree(comm, local, NULL, 0);
    if (rc == LP_SUCCESS) rc = lp_registry_add(&live_objects, &partial->registry);
    if (rc != LP_SUCCESS) {
        if (local == LP_SUCCESS) release_locally(partial);
        free_object(partial);
        return rc;
    }
    *out = partial;
    return LP_SUCCESS;
}

/* Under the lock: LP_SUCCESS while calls may still be made. */
static lp_result_t check_usable(lp_partial_t partial)
{
    if (partial->failure != LP_SUCCESS) return lp_partial_failure_result(partial);
    if (partial->released || partial->close_requested || partial->thread_exited)
        return lp_fail(LP_ERR_CLOSED, "the partial allreduce was closed");
    return LP_SUCCESS;
}

lp_result_t lp_partial_report_error(lp_partial_t partial, lp_result_t code)
{
    if (partial == NULL || code == LP_SUCCESS) return code;
    pthread_mutex_lock(&partial->lock);
    if (partial->local_error == LP_SUCCESS && !partial->released) {
        partial->local_error = code;
        if (partial->failure == LP_SUCCESS) {
            partial->failure = code;
            partial->failed_rank = partial->rank;
            lp_partial_fail_waiters(partial, code);
        }
        pthread_cond_signal(&partial->wake);
    }
    pthread_mutex_unlock(&partial->lock);
    return code;
}

/* Reports a bad call to every rank, keeping this rank's own detail. */
static lp_result_t reject_call(lp_partial_t partial, lp_result_t code)
{
    lp_fail_more(code, "the partial allreduce now fails on every rank");
    return lp_partial_report_error(partial, code);
}

/* Registers this rank's call: waits while the rank is too far ahead,
 * merges sendbuf into the pending contribution, and either delivers an
 * already completed round or queues the waiter. A blocking call (blocking
 * set) lends its buffers to the thread unless it is delivered at once. */
static lp_result_t begin_call(lp_partial_t partial, const void *sendbuf, void *recvbuf, lp_partial_info_t *info,
                              int blocking, struct lp_partial_waiter *waiter, const struct deadline *deadline)
{
    if (partial == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "partial allreduce is NULL");
    if (partial->count > 0 && (sendbuf == NULL || recvbuf == NULL))
        return reject_call(partial, lp_fail(LP_ERR_INVALID_ARGUMENT, "buffer is NULL with count %lld",
                                            (long long)partial->count));
    pthread_mutex_lock(&partial->lock);
    lp_result_t rc = check_usable(partial);
    while (rc == LP_SUCCESS && partial->calls - partial->min_calls > partial->max_staleness) {
        if (!wait_for_change(partial, deadline))
            rc = lp_fail(LP_ERR_TIMEOUT, "round %lld waited %g s for the slowest rank, which is more than "
                         "max_staleness=%d rounds behind; this call did not contribute",
                         (long long)partial->calls, partial->timeout, partial->max_staleness);
        else
            rc = check_usable(partial);
    }
    *waiter = (struct lp_partial_waiter){
        .owner = partial, .round = partial->calls, .sendbuf = sendbuf, .recvbuf = recvbuf, .info = info,
        .late = partial->calls <= partial->snapshot_through,
        .lendable = blocking && !deadline->set && partial->count > 0 &&
                    partial->calls > partial->completed_through};
    if (rc == LP_SUCCESS) rc = lp_partial_merge_pending(partial, waiter);
    if (rc != LP_SUCCESS) {
        pthread_mutex_unlock(&partial->lock);
        return rc;
    }
    partial->calls++;
    if (waiter->round <= partial->completed_through) {
        const struct lp_partial_slot *slot = lp_partial_slot_of(partial, waiter->round);
        if (slot->round == waiter->round) lp_partial_deliver(partial, slot, slot->data, waiter);
        else rc = lp_fail(LP_ERR_INTERNAL, "round %lld left the result ring", (long long)waiter->round);
    } else {
        waiter->next = partial->waiters;
        partial->waiters = waiter;
    }
    pthread_cond_signal(&partial->wake);
    pthread_mutex_unlock(&partial->lock);
    return rc;
}

/* Under the lock: the code of a completed waiter, with its detail. */
static lp_result_t waiter_result(lp_partial_t partial, const struct lp_partial_waiter *waiter)
{
    if (waiter->result == LP_SUCCESS) return LP_SUCCESS;
    if (partial->failure != LP_SUCCESS) return lp_partial_failure_result(partial);
    return lp_fail(waiter->result, "the partial allreduce was closed before round %lld completed",
                   (long long)waiter->round);
}

static lp_result_t await_round(lp_partial_t partial, struct lp_partial_waiter *waiter,
                               const struct deadline *deadline)
{
    pthread_mutex_lock(&partial->lock);
    lp_result_t rc = LP_SUCCESS;
    while ((!waiter->done || waiter->lent) && rc == LP_SUCCESS) {
        /* Only a call without a deadline lends its buffers, so a lent call
         * never times out while MPI may still read or write them. */
        if (!wait_for_change(partial, deadline) && !waiter->done) {
            lp_partial_remove_waiter(partial, waiter);
            rc = lp_fail(LP_ERR_TIMEOUT, "%s did not complete within %g s (quorum %d of %d ranks); "
                         "its contribution stays pending",
                         waiter->round < 0 ? "flush" : "round", partial->timeout, partial->quorum, partial->size);
        }
    }
    if (rc == LP_SUCCESS) rc = waiter_result(partial, waiter);
    lp_partial_reclaim_pending(partial, waiter); /* the caller may reuse sendbuf once this returns */
    pthread_mutex_unlock(&partial->lock);
    return rc;
}

lp_result_t lp_partial_allreduce(lp_partial_t partial, const void *sendbuf, void *recvbuf, lp_partial_info_t *info)
{
    struct deadline deadline = deadline_after(partial != NULL ? partial->timeout : 0);
    struct lp_partial_waiter waiter;
    LP_TRY(begin_call(partial, sendbuf, recvbuf, info, 1, &waiter, &deadline));
    return await_round(partial, &waiter, &deadline);
}

/* ---- nonblocking calls ---- */

static lp_result_t request_test(lp_request_t request, int *done)
{
    struct lp_partial_waiter *waiter = request->state;
    lp_partial_t partial = waiter->owner;
    pthread_mutex_lock(&partial->lock);
    *done = waiter->done;
    lp_result_t rc = waiter->done ? waiter_result(partial, waiter) : LP_SUCCESS;
    pthread_mutex_unlock(&partial->lock);
    return rc;
}

static lp_result_t request_wait(lp_request_t request)
{
    struct lp_partial_waiter *waiter = request->state;
    struct deadline deadline = deadline_after(waiter->owner->timeout);
    return await_round(waiter->owner, waiter, &deadline);
}

static void request_release(void *state)
{
    struct lp_partial_waiter *waiter = state;
    lp_partial_t partial = waiter->owner;
    pthread_mutex_lock(&partial->lock);
    lp_partial_remove_waiter(partial, waiter);
    const int last_reference = --partial->live_requests == 0 && partial->destroyed;
    pthread_mutex_unlock(&partial->lock);
    free(waiter);
    if (last_reference) free_object(partial);
}

static const struct lp_request_ops partial_request_ops = {request_test, request_wait, request_release};

lp_result_t lp_partial_start(lp_partial_t partial, const void *sendbuf, void *recvbuf, lp_partial_info_t *info,
                             lp_request_t *request)
{
    if (request == NULL) return reject_call(partial, lp_fail(LP_ERR_INVALID_ARGUMENT, "request pointer is NULL"));
    *request = NULL;
    struct lp_partial_waiter *waiter = malloc(sizeof *waiter);
    if (waiter == NULL) return reject_call(partial, lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a request"));
    struct deadline deadline = deadline_after(partial != NULL ? partial->timeout : 0);
    lp_result_t rc = begin_call(partial, sendbuf, recvbuf, info, 0, waiter, &deadline);
    if (rc != LP_SUCCESS) {
        free(waiter);
        return rc;
    }
    pthread_mutex_lock(&partial->lock);
    partial->live_requests++;
    pthread_mutex_unlock(&partial->lock);
    rc = lp_request_create(&partial_request_ops, waiter, request);
    if (rc != LP_SUCCESS) request_release(waiter);
    return rc;
}

lp_result_t lp_partial_request_detach(lp_request_t request)
{
    if (request == NULL || request->ops != &partial_request_ops)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "not a partial allreduce request");
    if (request->done) return LP_SUCCESS;
    struct lp_partial_waiter *waiter = request->state;
    pthread_mutex_lock(&waiter->owner->lock);
    if (!waiter->done) {
        lp_partial_remove_waiter(waiter->owner, waiter);
        waiter->done = 1;
        waiter->result = LP_ERR_CLOSED;
    }
    pthread_mutex_unlock(&waiter->owner->lock);
    return LP_SUCCESS;
}

/* ---- flush, close ---- */

lp_result_t lp_partial_flush(lp_partial_t partial, void *recvbuf, lp_partial_info_t *info)
{
    if (partial == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "partial allreduce is NULL");
    if (partial->count > 0 && recvbuf == NULL)
        return reject_call(partial, lp_fail(LP_ERR_INVALID_ARGUMENT, "flush: recvbuf is NULL with count %lld",
                                            (long long)partial->count));
    struct deadline deadline = deadline_after(partial->timeout);
    struct lp_partial_waiter waiter = {.owner = partial, .round = -1, .recvbuf = recvbuf, .info = info};
    pthread_mutex_lock(&partial->lock);
    lp_result_t rc = check_usable(partial);
    if (rc == LP_SUCCESS) {
        waiter.next = partial->waiters;
        partial->waiters = &waiter;
        partial->flush_requested = 1;
        pthread_cond_signal(&partial->wake);
    }
    pthread_mutex_unlock(&partial->lock);
    LP_TRY(rc);
    return await_round(partial, &waiter, &deadline);
}

lp_result_t lp_partial_destroy(lp_partial_t partial)
{
    if (partial == NULL) return LP_SUCCESS;
    lp_registry_remove(&live_objects, &partial->registry);
    lp_result_t rc = LP_SUCCESS;
    if (!partial->released) {
        struct deadline deadline = deadline_after(partial->timeout);
        pthread_mutex_lock(&partial->lock);
        partial->close_requested = 1;
        pthread_cond_signal(&partial->wake);
        while (!partial->thread_exited) {
            if (!wait_for_change(partial, &deadline) && !partial->thread_exited && !partial->abandon) {
                /* Some rank never closed: give up the handshake, release locally. */
                partial->abandon = 1;
                pthread_cond_signal(&partial->wake);
                rc = lp_fail(LP_ERR_TIMEOUT, "close did not complete on every rank within %g s; "
                             "released this rank's resources anyway", partial->timeout);
                deadline.set = 0;
            }
        }
        pthread_mutex_unlock(&partial->lock);
        lp_partial_join_thread(partial);
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) {
            lp_partial_trigger_free(partial);
            MPI_Comm_free(&partial->comm);
        }
        partial->released = 1;
    }
    /* A request not yet released still reads the object: the last one frees it. */
    pthread_mutex_lock(&partial->lock);
    partial->destroyed = 1;
    const int unreferenced = partial->live_requests == 0;
    pthread_mutex_unlock(&partial->lock);
    if (unreferenced) free_object(partial);
    return rc;
}

lp_result_t lp_partial_quorum(lp_partial_t partial, int *quorum)
{
    if (partial == NULL || quorum == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "argument is NULL");
    *quorum = partial->quorum;
    return LP_SUCCESS;
}

lp_result_t lp_partial_stats(lp_partial_t partial, lp_partial_stats_t *stats)
{
    if (partial == NULL || stats == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "partial allreduce or stats is NULL");
    const struct lp_partial_counters *c = &partial->counters;
    *stats = (lp_partial_stats_t){
        .rounds = __atomic_load_n(&c->rounds, __ATOMIC_RELAXED),
        .control_messages_sent = __atomic_load_n(&c->control_messages_sent, __ATOMIC_RELAXED),
        .control_messages_received = __atomic_load_n(&c->control_messages_received, __ATOMIC_RELAXED),
        .rma_operations = __atomic_load_n(&c->rma_operations, __ATOMIC_RELAXED),
        .reduction_messages_sent = __atomic_load_n(&c->reduction_messages_sent, __ATOMIC_RELAXED),
        .reduction_steps_last_round = __atomic_load_n(&c->reduction_steps_last_round, __ATOMIC_RELAXED),
        .algorithm_last_round = partial->algorithm,
        .trigger = partial->trigger};
    return LP_SUCCESS;
}
