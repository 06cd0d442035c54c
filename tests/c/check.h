/* Minimal assertions for the MPI C tests: a failed check prints where and
 * makes the process exit non-zero, which fails the ctest run. */
#ifndef LP_TEST_CHECK_H
#define LP_TEST_CHECK_H

#include <libpartial.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

#define CHECK_OK(call)                                                              \
    do {                                                                            \
        lp_result_t check_rc_ = (call);                                             \
        if (check_rc_ != LP_SUCCESS) {                                              \
            fprintf(stderr, "%s:%d: %s returned %s (%s)\n", __FILE__, __LINE__, #call, \
                    lp_result_string(check_rc_), lp_get_last_error());               \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

/* A deterministic generator, so that every rank can rebuild every other
 * rank's input and compute the reference result on its own. */
static inline uint64_t test_random(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ull;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* MPI with threads, this rank and size, and a library communicator on
 * MPI_COMM_WORLD: how the partial allreduce tests begin. */
static inline lp_comm_t test_init_world(int *argc, char ***argv, int *rank, int *size)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    CHECK(provided == MPI_THREAD_MULTIPLE);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    lp_comm_t comm;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &comm));
    return comm;
}

#endif
