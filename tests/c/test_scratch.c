/* The scratch cache: a freed block of a repeated size is handed out again,
 * a much smaller request does not take a large block, and blocks stay
 * intact while threads allocate and free concurrently. Local code: every
 * rank runs the same checks. */
#include "check.h"
#include "core/core.h"

#include <mpi.h>
#include <pthread.h>
#include <string.h>

enum { MIB = 1 << 20, THREADS = 4, ROUNDS = 200 };

static void test_same_size_is_reused(void)
{
    unsigned char *first = lp_scratch_alloc(MIB);
    CHECK(first != NULL);
    memset(first, 0xAB, MIB);
    lp_scratch_free(first);
    /* Without the cache, the freed pages would go back to the system and
     * the next plain allocation would likely get the same address. */
    void *decoy = malloc(MIB);
    /* A slightly smaller request (a sparse union that shrank) fits too. */
    unsigned char *again = lp_scratch_alloc(MIB - 4096);
    CHECK(again == first);
    lp_scratch_free(again);
    free(decoy);
}

static void test_small_request_leaves_large_block(void)
{
    void *large = lp_scratch_alloc(16 * MIB);
    CHECK(large != NULL);
    lp_scratch_free(large);
    void *decoy = malloc(16 * MIB);
    void *small = lp_scratch_alloc(MIB);
    CHECK(small != NULL && small != large);
    void *large_again = lp_scratch_alloc(16 * MIB);
    CHECK(large_again == large);
    lp_scratch_free(small);
    lp_scratch_free(large_again);
    free(decoy);
}

static void *churn(void *argument)
{
    const unsigned char mark = (unsigned char)(uintptr_t)argument;
    uint64_t state = mark;
    for (int round = 0; round < ROUNDS; round++) {
        size_t bytes = (size_t)(64 << 10) + (size_t)(test_random(&state) % (4 * MIB));
        unsigned char *block = lp_scratch_alloc(bytes);
        CHECK(block != NULL);
        memset(block, mark, bytes);
        for (size_t i = 0; i < bytes; i += 4096) CHECK(block[i] == mark);
        CHECK(block[bytes - 1] == mark);
        lp_scratch_free(block);
    }
    return NULL;
}

static void test_threads_never_share_a_block(void)
{
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, churn, (void *)(uintptr_t)(t + 1)) == 0);
    for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    test_same_size_is_reused();
    test_small_request_leaves_large_block();
    test_threads_never_share_a_block();
    lp_scratch_release_cache();
    MPI_Finalize();
    return 0;
}
