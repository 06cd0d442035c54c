/* Where each bucket and block of a quantized vector lies on the wire. */
#include "quantized/quantized.h"

struct lp_quantized_layout lp_quantized_layout(int64_t count, int bits, int64_t bucket_size, int nprocs)
{
    struct lp_quantized_layout layout = {.count = count, .bucket_size = bucket_size, .bits = bits, .nprocs = nprocs};
    layout.nbuckets = count == 0 ? 0 : (count + bucket_size - 1) / bucket_size;
    layout.bucket_bytes = lp_quantized_payload_bytes(bucket_size, bits);
    layout.last_bucket_bytes =
        layout.nbuckets == 0 ? 0 : lp_quantized_payload_bytes(count - (layout.nbuckets - 1) * bucket_size, bits);
    return layout;
}

int64_t lp_quantized_first_bucket(const struct lp_quantized_layout *layout, int block)
{
    return layout->nbuckets * block / layout->nprocs;
}

int64_t lp_quantized_bucket_length(const struct lp_quantized_layout *layout, int64_t bucket)
{
    const int64_t first = bucket * layout->bucket_size;
    return layout->count - first < layout->bucket_size ? layout->count - first : layout->bucket_size;
}

/* Payload bytes of the buckets before bucket b: all of them full but the last. */
static int64_t payload_before(const struct lp_quantized_layout *layout, int64_t b)
{
    if (b < layout->nbuckets) return b * layout->bucket_bytes;
    return (layout->nbuckets - 1) * layout->bucket_bytes + layout->last_bucket_bytes;
}

int64_t lp_quantized_block_offset(const struct lp_quantized_layout *layout, int block)
{
    const int64_t b = lp_quantized_first_bucket(layout, block);
    return b == 0 ? 0 : (int64_t)sizeof(float) * b + payload_before(layout, b);
}

int64_t lp_quantized_block_bytes(const struct lp_quantized_layout *layout, int block)
{
    return lp_quantized_block_offset(layout, block + 1) - lp_quantized_block_offset(layout, block);
}
