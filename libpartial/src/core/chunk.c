/* The one loop that cuts 64-bit counts into MPI-sized chunks. */
#include "core/chunk.h"

#include "core/datatype.h"

struct lp_chunks lp_chunks(int64_t total, int64_t limit)
{
    return (struct lp_chunks){.total = total, .limit = limit, .index = -1, .offset = 0, .count = 0};
}

struct lp_chunks lp_mpi_chunks(int64_t total) { return lp_chunks(total, lp_max_mpi_count()); }

int lp_chunks_next(struct lp_chunks *chunks)
{
    chunks->offset += chunks->count;
    chunks->index++;
    if (chunks->offset >= chunks->total) {
        chunks->count = 0;
        return 0;
    }
    const int64_t left = chunks->total - chunks->offset;
    chunks->count = (int)(left < chunks->limit ? left : chunks->limit);
    return 1;
}

int64_t lp_chunk_count(int64_t total, int64_t limit) { return total <= 0 ? 0 : (total + limit - 1) / limit; }

int64_t lp_mpi_chunk_count(int64_t total) { return lp_chunk_count(total, lp_max_mpi_count()); }
