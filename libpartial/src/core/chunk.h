/* Counts past INT_MAX, cut into pieces that fit MPI's int counts (chunk.c). */
#ifndef LP_CORE_CHUNK_H
#define LP_CORE_CHUNK_H

#include <stdint.h>

/* Walks [0, total) in chunks of at most limit elements (limit in 1..INT_MAX):
 *
 *     for (struct lp_chunks c = lp_chunks(total, limit); lp_chunks_next(&c);)
 *         MPI_Send(buffer + c.offset * width, c.count, ...);
 *
 * Both sides of a message cut the same total into the same chunks. */
struct lp_chunks {
    int64_t total, limit;
    int64_t index;  /* of the current chunk, from 0 */
    int64_t offset; /* its first element */
    int count;      /* its length */
};

struct lp_chunks lp_chunks(int64_t total, int64_t limit);
/* Chunks of at most lp_max_mpi_count() elements: one MPI call each. */
struct lp_chunks lp_mpi_chunks(int64_t total);
/* Moves to the next chunk; 0 when there is none. */
int lp_chunks_next(struct lp_chunks *chunks);
/* How many chunks lp_chunks(total, limit) walks. */
int64_t lp_chunk_count(int64_t total, int64_t limit);
int64_t lp_mpi_chunk_count(int64_t total);

#endif /* LP_CORE_CHUNK_H */
