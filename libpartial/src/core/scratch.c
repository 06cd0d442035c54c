/* Large work buffers kept between calls.
 *
 * A collective called in a loop with the same shape needs the same large
 * buffers every time. Fresh ones come from mmap and are returned with
 * munmap, so each call would fault every page in again (and the kernel
 * zeroes each one): at N=2^24, 1% density that was more than half the time
 * of a sparse allreduce. Freed blocks therefore go into a small cache and
 * are handed out again. Small blocks skip the cache: malloc serves them
 * from its heap without faults. */
#include "core/core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { CACHE_SLOTS = 16 };
#define CACHED_MIN_BYTES ((size_t)64 << 10)
#define DEFAULT_CACHE_LIMIT ((size_t)1 << 30)

/* Sits in front of every block; its size keeps the payload 16-byte aligned. */
struct block_header {
    size_t capacity;
    size_t reserved;
};

static struct {
    pthread_mutex_t lock;
    struct block_header *blocks[CACHE_SLOTS];
    int count;
    size_t cached_bytes, limit;
    int limit_read;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* LP_SCRATCH_CACHE_BYTES caps what stays cached; 0 turns the cache off. */
static size_t cache_limit(void)
{
    if (!cache.limit_read) {
        const char *text = getenv("LP_SCRATCH_CACHE_BYTES");
        char *end = NULL;
        unsigned long long value = text != NULL ? strtoull(text, &end, 10) : 0;
        cache.limit = text != NULL && end != text && *end == '\0' ? (size_t)value : DEFAULT_CACHE_LIMIT;
        cache.limit_read = 1;
    }
    return cache.limit;
}

/* Capacities are rounded up to 8 steps per power of two, so that the
 * slightly different sizes of successive calls (the union of sparse inputs
 * varies) still fit a cached block, wasting at most 1/8. */
static size_t rounded_capacity(size_t bytes)
{
    if (bytes < CACHED_MIN_BYTES) return bytes;
    size_t step = 1;
    while ((bytes >> 3) >= (step << 1)) step <<= 1;
    return (bytes + step - 1) / step * step;
}

static struct block_header *take_cached(size_t bytes)
{
    int best = -1;
    pthread_mutex_lock(&cache.lock);
    for (int i = 0; i < cache.count; i++) {
        const size_t capacity = cache.blocks[i]->capacity;
        /* A much larger block is left for a request of its own size. */
        if (capacity < bytes || capacity / 4 > bytes) continue;
        if (best < 0 || capacity < cache.blocks[best]->capacity) best = i;
    }
    struct block_header *block = NULL;
    if (best >= 0) {
        block = cache.blocks[best];
        memmove(cache.blocks + best, cache.blocks + best + 1, (size_t)(--cache.count - best) * sizeof *cache.blocks);
        cache.cached_bytes -= block->capacity;
    }
    pthread_mutex_unlock(&cache.lock);
    return block;
}

void *lp_scratch_alloc(size_t bytes)
{
    struct block_header *block = bytes >= CACHED_MIN_BYTES ? take_cached(bytes) : NULL;
    if (block == NULL) {
        const size_t capacity = rounded_capacity(bytes);
        if (capacity > SIZE_MAX - sizeof *block) return NULL;
        block = malloc(sizeof *block + (capacity > 0 ? capacity : 1));
        if (block == NULL) return NULL;
        block->capacity = capacity;
    }
    return block + 1;
}

void lp_scratch_free(void *pointer)
{
    if (pointer == NULL) return;
    struct block_header *block = (struct block_header *)pointer - 1;
    if (block->capacity >= CACHED_MIN_BYTES) {
        pthread_mutex_lock(&cache.lock);
        const size_t limit = cache_limit();
        if (block->capacity <= limit) {
            /* Full: the oldest blocks go, since recent shapes repeat. */
            while (cache.count == CACHE_SLOTS || cache.cached_bytes + block->capacity > limit) {
                struct block_header *oldest = cache.blocks[0];
                cache.cached_bytes -= oldest->capacity;
                memmove(cache.blocks, cache.blocks + 1, (size_t)(--cache.count) * sizeof *cache.blocks);
                free(oldest);
            }
            cache.blocks[cache.count++] = block;
            cache.cached_bytes += block->capacity;
            block = NULL;
        }
        pthread_mutex_unlock(&cache.lock);
    }
    free(block);
}

void lp_scratch_release_cache(void)
{
    pthread_mutex_lock(&cache.lock);
    for (int i = 0; i < cache.count; i++) free(cache.blocks[i]);
    cache.count = 0;
    cache.cached_bytes = 0;
    pthread_mutex_unlock(&cache.lock);
}

/* Leak checkers then see every block returned at exit. */
__attribute__((destructor)) static void release_cache_at_exit(void) { lp_scratch_release_cache(); }
