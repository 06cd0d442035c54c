/* The partial allreduce's reduction algorithms and triggers through the C
 * API: each pair, forced with lp_partial_create_config, gives the exact
 * int64 sum of every rank's input (each rank rebuilds all inputs), on
 * vectors shorter and longer than P and in chunks (LP_MAX_MPI_COUNT);
 * lp_partial_stats counts its rounds, steps and atomics; names round-trip;
 * auto picks one_sided on one node; a config without its size is refused
 * on every rank. */
#include "check.h"

#include <string.h>

enum { ROUNDS = 5 };

static void rank_input(int64_t *v, int64_t count, int rank, int64_t round)
{
    uint64_t state = (uint64_t)rank * 1000003u + (uint64_t)round * 7919u + (uint64_t)count;
    for (int64_t i = 0; i < count; i++) v[i] = (int64_t)(test_random(&state) % 2001) - 1000;
}

static int expected_steps(lp_partial_algorithm_t algorithm, int size)
{
    if (size == 1) return 0;
    if (algorithm == LP_PARTIAL_ALGORITHM_RING) return 2 * (size - 1);
    int group = 1, levels = 0;
    while (group * 2 <= size) group *= 2, levels++;
    return 2 * levels + 2 * (size > group);
}

static void run(lp_comm_t comm, lp_partial_algorithm_t algorithm, lp_partial_trigger_t trigger, int64_t count,
                int rank, int size)
{
    lp_partial_config_t config = LP_PARTIAL_CONFIG_INIT;
    config.algorithm = algorithm;
    config.trigger = trigger;
    lp_partial_t partial;
    CHECK_OK(lp_partial_create_config(count, LP_INT64, LP_SUM, LP_PARTIAL_SYNC, 0, -1, 60.0, comm, &config,
                                      &partial));
    const size_t bytes = sizeof(int64_t) * (size_t)(count > 0 ? count : 1);
    int64_t *send = malloc(bytes), *recv = malloc(bytes), *want = malloc(bytes), *other = malloc(bytes);
    CHECK(send && recv && want && other);
    for (int64_t round = 0; round < ROUNDS; round++) {
        memset(want, 0, bytes);
        for (int r = 0; r < size; r++) {
            rank_input(other, count, r, round);
            for (int64_t i = 0; i < count; i++) want[i] += other[i];
        }
        rank_input(send, count, rank, round);
        lp_partial_info_t info;
        CHECK_OK(lp_partial_allreduce(partial, send, recv, &info));
        CHECK(info.contributions == size);
        CHECK(count == 0 || memcmp(recv, want, sizeof(int64_t) * (size_t)count) == 0);
    }
    lp_partial_stats_t stats;
    CHECK_OK(lp_partial_stats(partial, &stats));
    CHECK(stats.rounds == ROUNDS);
    CHECK(stats.algorithm_last_round == algorithm);
    CHECK(stats.reduction_steps_last_round == expected_steps(algorithm, size));
    CHECK(stats.trigger == trigger);
    /* One atomic per call, on the round's host; messages only for notices. */
    CHECK(stats.rma_operations == (trigger == LP_PARTIAL_TRIGGER_ONE_SIDED ? ROUNDS : 0));
    CHECK(size == 1 || stats.control_messages_sent + stats.control_messages_received > 0);
    CHECK_OK(lp_partial_destroy(partial));
    free(send);
    free(recv);
    free(want);
    free(other);
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    CHECK(provided == MPI_THREAD_MULTIPLE);
    lp_comm_t world;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &world));
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    const lp_partial_algorithm_t algorithms[] = {LP_PARTIAL_ALGORITHM_RING, LP_PARTIAL_ALGORITHM_HALVING_DOUBLING};
    const int64_t counts[] = {0, 1, size + 1, 2500}; /* 2500 is cut into chunks of LP_MAX_MPI_COUNT */
    const lp_partial_trigger_t triggers[] = {LP_PARTIAL_TRIGGER_ONE_SIDED, LP_PARTIAL_TRIGGER_POINT_TO_POINT};
    for (int a = 0; a < 2; a++) {
        lp_partial_algorithm_t parsed = LP_PARTIAL_ALGORITHM_AUTO;
        CHECK_OK(lp_partial_algorithm_from_name(lp_partial_algorithm_name(algorithms[a]), &parsed));
        CHECK(parsed == algorithms[a]);
        for (int t = 0; t < 2; t++)
            for (int c = 0; c < 4; c++) run(world, algorithms[a], triggers[t], counts[c], rank, size);
    }
    for (int t = 0; t < 2; t++) {
        lp_partial_trigger_t parsed = LP_PARTIAL_TRIGGER_AUTO;
        CHECK_OK(lp_partial_trigger_from_name(lp_partial_trigger_name(triggers[t]), &parsed));
        CHECK(parsed == triggers[t]);
    }
    CHECK(lp_partial_trigger_name(LP_PARTIAL_NUM_TRIGGERS) == NULL);
    CHECK(lp_partial_trigger_from_name("semaphore", &(lp_partial_trigger_t){0}) == LP_ERR_INVALID_ARGUMENT);
    const char *forced = getenv("LP_PARTIAL_TRIGGER");
    if (forced == NULL || *forced == '\0' || strcmp(forced, "auto") == 0) {
        lp_partial_trigger_t chosen = LP_PARTIAL_TRIGGER_AUTO;
        CHECK_OK(lp_partial_select_trigger(world, &chosen));
        CHECK(chosen == LP_PARTIAL_TRIGGER_ONE_SIDED); /* the test's ranks share one node */
    }
    CHECK(lp_partial_algorithm_name(LP_PARTIAL_NUM_ALGORITHMS) == NULL);
    CHECK(lp_partial_algorithm_from_name("butterfly", &(lp_partial_algorithm_t){0}) == LP_ERR_INVALID_ARGUMENT);
    CHECK(lp_partial_select_algorithm(256, LP_FLOAT32, 1) == LP_PARTIAL_ALGORITHM_RING);
    CHECK(lp_partial_predict_seconds(LP_PARTIAL_ALGORITHM_RING, 256, LP_FLOAT32, 1) == 0.0);

    /* A config that does not say its size is refused, on every rank. */
    lp_partial_config_t unsized = {0, LP_PARTIAL_ALGORITHM_RING, LP_PARTIAL_TRIGGER_AUTO};
    lp_partial_t partial = NULL;
    CHECK(lp_partial_create_config(8, LP_INT64, LP_SUM, LP_PARTIAL_SYNC, 0, -1, 30.0, world, &unsized, &partial) ==
          LP_ERR_INVALID_ARGUMENT);
    CHECK(partial == NULL);
    CHECK_OK(lp_comm_destroy(world));
    MPI_Finalize();
    return 0;
}
