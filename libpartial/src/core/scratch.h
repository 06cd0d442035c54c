/* Cached work buffers (scratch.c). */
#ifndef LP_CORE_SCRATCH_H
#define LP_CORE_SCRATCH_H

#include <stddef.h>

/* Work buffers that repeated calls reuse instead of faulting in fresh pages;
 * a block from lp_scratch_alloc goes back with lp_scratch_free only. */
void *lp_scratch_alloc(size_t bytes);
void lp_scratch_free(void *pointer);
/* Returns every cached block to the system. */
void lp_scratch_release_cache(void);

#endif /* LP_CORE_SCRATCH_H */
