/* Partial allreduce under emulated compute and load imbalance, against
 * MPI_Allreduce running the same loop in the same run, OSU style.
 *
 * Every round each rank "computes" for -t microseconds (a sleep, which
 * leaves the core to the progress thread, as a GPU kernel would), and the
 * ranks chosen by the imbalance spec sleep -e microseconds more:
 *   -I random:K   K ranks per round, drawn from a seed shared by all ranks
 *                 (the eager-SGD paper's injection);
 *   -I fixed:R    rank R every round.
 * Avg Latency is the time per round. The analytic limit is the time per
 * round of a rank that never waits for others: t + e * (stragglers / P).
 * With -c, conservation is checked: the sum of every round's result plus
 * the final flush equals the sum of every contribution made. With -d cuda
 * each call copies its contribution from the device and its result back
 * (libpartial works on host memory); -c also reads the last result back.
 * -T is the object's timeout (default 60 s, 0 for none): only an object
 * without one lends a blocking call's buffers to the reduction, so -T 0
 * measures that path and the default the copying one. */
#define _POSIX_C_SOURCE 200809L
#include "osu.h"
#include "osu_buffer.h"

#include <libpartial.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct partial_options {
    lp_partial_mode_t mode;
    int quorum, max_staleness;
    double compute_us, extra_us;
    double timeout_s;      /* -T: every wait's timeout, 0 for none */
    int random_stragglers; /* K for random:K, or 0 */
    int fixed_straggler;   /* R for fixed:R, or -1 */
    uint64_t seed;
};

static int accept_option(int option, const char *argument, void *context)
{
    struct partial_options *o = context;
    switch (option) {
    case 'M':
        if (strcmp(argument, "solo") == 0) o->mode = LP_PARTIAL_SOLO;
        else if (strcmp(argument, "majority") == 0) o->mode = LP_PARTIAL_MAJORITY;
        else if (strcmp(argument, "sync") == 0) o->mode = LP_PARTIAL_SYNC;
        else if ((o->quorum = atoi(argument)) > 0) o->mode = LP_PARTIAL_QUORUM;
        else return -1;
        return 0;
    case 't': o->compute_us = atof(argument); return o->compute_us >= 0 ? 0 : -1;
    case 'e': o->extra_us = atof(argument); return o->extra_us >= 0 ? 0 : -1;
    case 'I':
        if (strncmp(argument, "random:", 7) == 0) {
            o->random_stragglers = atoi(argument + 7), o->fixed_straggler = -1;
            return o->random_stragglers >= 0 ? 0 : -1;
        }
        if (strncmp(argument, "fixed:", 6) == 0) {
            o->fixed_straggler = atoi(argument + 6), o->random_stragglers = 0;
            return o->fixed_straggler >= 0 ? 0 : -1;
        }
        return -1;
    case 'S': o->seed = strtoull(argument, NULL, 10); return 0;
    case 'w': o->max_staleness = atoi(argument); return 0;
    case 'T': o->timeout_s = atof(argument); return o->timeout_s >= 0 ? 0 : -1;
    default: return -1;
    }
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Is rank a straggler in this round? Every rank computes the same answer. */
static int is_straggler(const struct partial_options *o, int rank, int size, uint64_t round)
{
    if (o->fixed_straggler >= 0) return rank == o->fixed_straggler % size;
    /* The first K of a seeded permutation's order: rank's key among all keys. */
    uint64_t key = mix(o->seed ^ (round * 0x9E3779B97F4A7C15ull) ^ (uint64_t)rank);
    int smaller = 0;
    for (int r = 0; r < size; r++) {
        uint64_t other = mix(o->seed ^ (round * 0x9E3779B97F4A7C15ull) ^ (uint64_t)r);
        smaller += other < key || (other == key && r < rank);
    }
    return smaller < o->random_stragglers;
}

static void sleep_us(double us)
{
    if (us <= 0) return;
    struct timespec t = {(time_t)(us / 1e6), (long)((us - (double)(time_t)(us / 1e6) * 1e6) * 1e3)};
    nanosleep(&t, NULL);
}

struct round_run {
    const struct partial_options *options;
    int rank, size;
    uint64_t round;
    int64_t count;
    struct osu_buffer *send, *recv;
    lp_partial_t partial; /* NULL: the MPI_Allreduce baseline */
    int64_t result_sum, contributed_sum;
    lp_result_t status;
};

static void run_round(void *context)
{
    struct round_run *run = context;
    sleep_us(run->options->compute_us +
             (is_straggler(run->options, run->rank, run->size, run->round) ? run->options->extra_us : 0));
    run->round++;
    if (run->partial == NULL) {
        osu_allreduce(run->send, run->recv, (int)run->count, MPI_INT64_T);
        return;
    }
    const size_t bytes = sizeof(int64_t) * (size_t)run->count;
    osu_buffer_to_host(run->send, bytes);
    const int64_t *send = run->send->host, *recv = run->recv->host;
    lp_result_t rc = lp_partial_allreduce(run->partial, send, run->recv->host, NULL);
    osu_buffer_from_host(run->recv, bytes);
    if (rc != LP_SUCCESS) run->status = rc;
    run->result_sum += recv[0];
    run->contributed_sum += send[0];
}

int main(int argc, char **argv)
{
    struct partial_options partial = {.mode = LP_PARTIAL_SOLO, .max_staleness = -1, .random_stragglers = 1,
                                      .fixed_straggler = -1, .seed = 1, .timeout_s = 60};
    struct osu_extra extra = {"M:t:e:I:S:w:T:",
                              " [-M solo|majority|sync|K] [-t compute_us] [-e extra_us] [-I random:K|fixed:R]"
                              " [-S seed] [-w max_staleness] [-T timeout_s (0: none)]",
                              accept_option, &partial};
    struct osu_options options;
    struct osu_context context;
    if (osu_start(&argc, &argv, &options, &extra, &context)) return 1;
    const int rank = context.rank, size = context.size;
    const lp_comm_t comm = context.comm;
    const char *mode_names[] = {"solo", "majority", "sync", "quorum"};
    double stragglers = partial.fixed_straggler >= 0 ? 1 : partial.random_stragglers;
    double limit_us = partial.compute_us + partial.extra_us * stragglers / size;
    char note[200], limit[96];
    snprintf(note, sizeof note, "Mode: %s%s, compute %.0f us/round, +%.0f us for %s%d rank(s), int64 sum",
             mode_names[partial.mode], partial.mode == LP_PARTIAL_QUORUM ? " (k given)" : "", partial.compute_us,
             partial.extra_us, partial.fixed_straggler >= 0 ? "fixed " : "random ",
             partial.fixed_straggler >= 0 ? partial.fixed_straggler : partial.random_stragglers);
    snprintf(limit, sizeof limit, "Analytic limit (no waiting): %.2f us/round; Speedup = MPI_Allreduce / ours",
             limit_us);
    const char *notes[] = {note, limit, "Baseline: MPI_Allreduce with the same compute and imbalance, same run"};
    const size_t max_bytes = sizeof(int64_t) * (options.max_size / sizeof(int64_t) + 1);
    struct osu_buffer send = {.bytes = max_bytes}, recv = {.bytes = max_bytes};
    struct osu_buffer *buffers[] = {&send, &recv};
    if (osu_buffers_alloc(&context, buffers, 2)) {
        osu_finish(&context);
        return 1;
    }
    osu_print_header(&context, "OSU-style Partial Allreduce Round-Time Test (libpartial)", notes, 3, &options,
                     "  MPI_Allreduce(us)     Speedup  Efficiency");

    for (size_t bytes = options.min_size; bytes <= options.max_size; bytes *= 2) {
        int64_t count = (int64_t)(bytes / sizeof(int64_t));
        if (count < 1) continue;
        int64_t *contribution = send.host, *result = recv.host;
        for (int64_t i = 0; i < count; i++) contribution[i] = rank + 1 + i % 3;
        osu_buffer_from_host(&send, sizeof(int64_t) * (size_t)count);
        lp_partial_t object;
        if (lp_partial_create(count, LP_INT64, LP_SUM, partial.mode, partial.quorum, partial.max_staleness,
                              partial.timeout_s, comm, &object) != LP_SUCCESS) {
            if (rank == 0) fprintf(stderr, "lp_partial_create: %s\n", lp_get_last_error());
            break;
        }
        struct round_run run = {&partial, rank, size, 0, count, &send, &recv, object, 0, 0, LP_SUCCESS};
        struct osu_timing timing = osu_time(run_round, &run, &options, MPI_COMM_WORLD);
        /* The last round's result reached the device intact. */
        int copied_back = !options.validate || osu_buffer_matches_host(&recv, sizeof(int64_t) * (size_t)count);
        lp_partial_info_t info;
        if (lp_partial_flush(object, result, &info) != LP_SUCCESS) run.status = LP_ERR_INTERNAL;
        int64_t totals[2] = {run.result_sum + result[0], run.contributed_sum}, all[2];
        /* Every rank saw the same results; contributions are summed over ranks. */
        MPI_Allreduce(&totals[1], &all[1], 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
        int valid = run.status == LP_SUCCESS && totals[0] == all[1] && copied_back;
        lp_partial_destroy(object);

        struct round_run baseline = {&partial, rank, size, 0, count, &send, &recv, NULL, 0, 0, LP_SUCCESS};
        struct osu_timing dense = osu_time(run_round, &baseline, &options, MPI_COMM_WORLD);
        char columns[80];
        snprintf(columns, sizeof columns, "%19.2f%12.2f%12.2f", dense.avg_us, dense.avg_us / timing.avg_us,
                 limit_us > 0 ? limit_us / timing.avg_us : 0.0);
        osu_print_row(bytes, timing, &options, columns, osu_all(valid, MPI_COMM_WORLD));
    }
    osu_buffers_free(buffers, 2);
    osu_finish(&context);
    return 0;
}
