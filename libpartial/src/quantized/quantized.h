/* Quantized (QSGD) allreduce: the codec (codec.c) and the wire layout
 * (layout.c) that allreduce.c runs over MPI. Internal to the library. */
#ifndef LP_QUANTIZED_QUANTIZED_H
#define LP_QUANTIZED_QUANTIZED_H

#include "libpartial.h"
#include <stdint.h>

/* ---- codec ------------------------------------------------------------- */

/* Each element is a sign bit and a magnitude level in 0..lp_quantized_levels(bits):
 * 1 for 2 bits, 7 for 4, 127 for 8. Level q of a bucket with scale s
 * decodes to q * s / levels, so zero is exact and the largest |x| of a
 * bucket (with the max scale) is too. */
int lp_quantized_levels(int bits);
/* Bytes that n codes of bits bits take, packed (two 4-bit or four 2-bit codes a byte). */
int64_t lp_quantized_payload_bytes(int64_t n, int bits);

/* The key of one bucket's random numbers: a counter-based generator keyed by
 * (seed, rank, call, bucket, stage), so any rank can recompute any stream. */
uint64_t lp_quantized_key(uint64_t seed, int rank, uint32_t call, int64_t bucket, int stage);

/* Quantizes x[0..n) with stochastic rounding: writes the packed codes to
 * payload and returns the bucket's scale (max |x|, or the L2 norm). A bucket
 * that holds a NaN or an infinity gets a NaN scale, which decodes to NaN
 * everywhere. work holds n bytes. */
float lp_quantized_encode(const float *x, int64_t n, int bits, lp_quantized_scale_t scale, uint64_t key,
                          uint8_t *payload, uint8_t *work);
/* acc[i] += decoded value i, for i in 0..n. */
void lp_quantized_decode_add(float scale, const uint8_t *payload, int64_t n, int bits, float *acc);
/* out[i] = decoded value i, in datatype (float32 or float64). */
void lp_quantized_decode(float scale, const uint8_t *payload, int64_t n, int bits, void *out,
                         lp_datatype_t datatype);

/* ---- wire layout ------------------------------------------------------- */

/* How count elements travel: buckets of bucket_size (the last may be
 * shorter), owned in contiguous blocks of whole buckets, block j by rank j.
 * On the wire a block is its buckets' float32 scales, then their payloads,
 * each starting on a byte; the whole vector is the blocks in rank order. */
struct lp_quantized_layout {
    int64_t count, bucket_size, nbuckets;
    int64_t bucket_bytes;      /* payload of a full bucket */
    int64_t last_bucket_bytes; /* payload of the last bucket */
    int bits, nprocs;
};

struct lp_quantized_layout lp_quantized_layout(int64_t count, int bits, int64_t bucket_size, int nprocs);
int64_t lp_quantized_first_bucket(const struct lp_quantized_layout *layout, int block);
/* Offset of block on the wire; block == nprocs gives the whole vector's size. */
int64_t lp_quantized_block_offset(const struct lp_quantized_layout *layout, int block);
int64_t lp_quantized_block_bytes(const struct lp_quantized_layout *layout, int block);
/* Elements in bucket b. */
int64_t lp_quantized_bucket_length(const struct lp_quantized_layout *layout, int64_t bucket);

#endif /* LP_QUANTIZED_QUANTIZED_H */
