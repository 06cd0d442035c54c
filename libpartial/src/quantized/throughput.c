/* The codec's speed on this core, alone: what the benchmarks report next
 * to the network's, since the two decide whether quantizing pays. */
#include "core/core.h"
#include "quantized/quantized.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

lp_result_t lp_quantized_measure_codec(int bits, int64_t bucket_size, lp_quantized_scale_t scale,
                                       double *encode_bytes_per_second, double *decode_bytes_per_second)
{
    if (encode_bytes_per_second == NULL || decode_bytes_per_second == NULL)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    if (lp_quantized_wire_bytes(1, bits, bucket_size) < 0 || (int)scale < 0 || scale >= LP_QUANTIZED_NUM_SCALES)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "bits %d, bucket_size %lld or scale %d is not valid", bits,
                       (long long)bucket_size, (int)scale);
    /* 4 MiB of float32 input: larger than most caches' share of one core, as gradients are. */
    enum { COUNT = 1 << 20, REPEATS = 5 };
    const struct lp_quantized_layout layout = lp_quantized_layout(COUNT, bits, bucket_size, 1);
    float *x = malloc(sizeof(float) * COUNT), *sum = malloc(sizeof(float) * COUNT);
    uint8_t *wire = malloc((size_t)lp_quantized_block_offset(&layout, 1)), *codes = malloc((size_t)bucket_size);
    float *scales = malloc(sizeof(float) * (size_t)layout.nbuckets);
    lp_result_t rc = LP_SUCCESS;
    if (x == NULL || sum == NULL || wire == NULL || codes == NULL || scales == NULL)
        rc = lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the codec measurement's buffers");
    double best_encode = HUGE_VAL, best_decode = HUGE_VAL;
    for (int64_t i = 0; rc == LP_SUCCESS && i < COUNT; i++) {
        x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
        sum[i] = 0;
    }
    for (int r = 0; rc == LP_SUCCESS && r < REPEATS; r++) {
        double start = now_seconds();
        for (int64_t b = 0; b < layout.nbuckets; b++)
            scales[b] = lp_quantized_encode(x + b * bucket_size, lp_quantized_bucket_length(&layout, b), bits, scale,
                                            lp_quantized_key(1, 0, (uint32_t)r, b, 0),
                                            wire + b * layout.bucket_bytes, codes);
        best_encode = fmin(best_encode, now_seconds() - start);
        start = now_seconds();
        for (int64_t b = 0; b < layout.nbuckets; b++)
            lp_quantized_decode_add(scales[b], wire + b * layout.bucket_bytes, lp_quantized_bucket_length(&layout, b),
                                    bits, sum + b * bucket_size);
        best_decode = fmin(best_decode, now_seconds() - start);
    }
    if (rc == LP_SUCCESS) {
        *encode_bytes_per_second = sizeof(float) * (double)COUNT / best_encode;
        *decode_bytes_per_second = sizeof(float) * (double)COUNT / best_decode;
    }
    free(x);
    free(sum);
    free(wire);
    free(codes);
    free(scales);
    return rc;
}
