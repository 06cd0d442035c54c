/* The QSGD codec: stochastic rounding to sign-and-magnitude levels, bit
 * packing, and decoding. The loops work on fixed lanes and byte codes so
 * that the compiler vectorizes them; every rank runs the same arithmetic in
 * the same order, which is what makes the decoded values identical. */
#include "quantized/quantized.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define LANES 8
/* Codes are unpacked this many at a time on the stack. */
#define DECODE_CHUNK 1024

int lp_quantized_levels(int bits) { return (1 << (bits - 1)) - 1; }

int64_t lp_quantized_payload_bytes(int64_t n, int bits) { return (n * bits + 7) / 8; }

/* SplitMix64's finalizer: a bijection that spreads every input bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t lp_quantized_key(uint64_t seed, int rank, uint32_t call, int64_t bucket, int stage)
{
    uint64_t key = mix64(seed + 0x9e3779b97f4a7c15ULL);
    key = mix64(key ^ ((uint64_t)(uint32_t)rank << 1 | (uint64_t)(stage & 1)));
    key = mix64(key ^ call);
    return mix64(key ^ (uint64_t)bucket);
}

/* 32-bit counter hash for element i of a stream: two multiply-xorshift
 * rounds (32-bit multiplies vectorize where 64-bit ones do not), with the
 * key's high half mixed in between so that streams whose counters overlap
 * still differ. Its top 24 bits make a uniform in [0, 1). */
static inline uint32_t element_hash(uint32_t counter, uint32_t low, uint32_t high)
{
    uint32_t x = counter + low;
    x ^= x >> 16;
    x *= 0x21f0aaadu;
    x ^= x >> 15;
    x ^= high;
    x *= 0x735a2d97u;
    return x ^ (x >> 15);
}

/* max |x| and sum x^2 (in double, so that a finite bucket's L2 norm cannot
 * overflow on the way) of x[0..n), and whether any element is not finite. */
static void bucket_statistics(const float *x, int64_t n, float *absmax, double *sumsq, int *finite)
{
    float lane_max[LANES] = {0}, lane_probe[LANES] = {0};
    double lane_sq[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        for (int k = 0; k < LANES; k++) {
            float a = fabsf(x[i + k]);
            lane_max[k] = a > lane_max[k] ? a : lane_max[k];
            lane_sq[k] += (double)a * a;
            lane_probe[k] += x[i + k] * 0.0f; /* NaN once an element is NaN or infinite */
        }
    }
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        lane_max[0] = a > lane_max[0] ? a : lane_max[0];
        lane_sq[0] += (double)a * a;
        lane_probe[0] += x[i] * 0.0f;
    }
    float m = 0, probe = 0;
    double sq = 0;
    for (int k = 0; k < LANES; k++) {
        m = lane_max[k] > m ? lane_max[k] : m;
        sq += lane_sq[k];
        probe += lane_probe[k];
    }
    *absmax = m;
    *sumsq = sq;
    *finite = probe == 0.0f;
}

/* Packs n byte codes of bits bits each into payload. */
static void pack(const uint8_t *codes, int64_t n, int bits, uint8_t *payload)
{
    const int per_byte = 8 / bits;
    const int64_t whole = n / per_byte;
    if (bits == 4) {
        for (int64_t k = 0; k < whole; k++) payload[k] = (uint8_t)(codes[2 * k] | codes[2 * k + 1] << 4);
    } else if (bits == 2) {
        for (int64_t k = 0; k < whole; k++)
            payload[k] = (uint8_t)(codes[4 * k] | codes[4 * k + 1] << 2 | codes[4 * k + 2] << 4 |
                                   codes[4 * k + 3] << 6);
    } else {
        memcpy(payload, codes, (size_t)n);
        return;
    }
    if (whole * per_byte < n) {
        uint8_t last = 0;
        for (int64_t i = whole * per_byte, shift = 0; i < n; i++, shift += bits) last |= (uint8_t)(codes[i] << shift);
        payload[whole] = last;
    }
}

/* Unpacks codes [first, first + n) of a payload into byte codes. */
static void unpack(const uint8_t *payload, int64_t first, int64_t n, int bits, uint8_t *codes)
{
    if (bits == 8) {
        memcpy(codes, payload + first, (size_t)n);
        return;
    }
    /* first is a multiple of DECODE_CHUNK, so it starts on a byte. */
    const uint8_t *bytes = payload + first * bits / 8;
    const int per_byte = 8 / bits;
    const uint8_t mask = (uint8_t)((1u << bits) - 1);
    const int64_t whole = n / per_byte;
    for (int64_t k = 0; k < whole; k++)
        for (int j = 0; j < per_byte; j++) codes[k * per_byte + j] = (uint8_t)(bytes[k] >> (j * bits) & mask);
    for (int64_t i = whole * per_byte; i < n; i++) codes[i] = (uint8_t)(bytes[whole] >> ((i - whole * per_byte) * bits) & mask);
}

float lp_quantized_encode(const float *x, int64_t n, int bits, lp_quantized_scale_t scale, uint64_t key,
                          uint8_t *payload, uint8_t *work)
{
    float absmax;
    double sumsq;
    int finite;
    bucket_statistics(x, n, &absmax, &sumsq, &finite);
    float s = scale == LP_QUANTIZED_SCALE_L2 ? (float)sqrt(sumsq) : absmax;
    if (!finite || !(s <= FLT_MAX)) s = NAN;
    const int levels = lp_quantized_levels(bits);
    /* A zero or NaN scale sends level 0 everywhere: zeros, or NaN once decoded. */
    const float to_level = s > 0 ? (float)levels / s : 0.0f;
    const uint8_t sign_bit = (uint8_t)(1u << (bits - 1));
    const uint32_t low = (uint32_t)key, high = (uint32_t)(key >> 32);
    for (int64_t i = 0; i < n; i++) {
        float r = fabsf(x[i]) * to_level;
        int floor_level = (int)r;
        float up = r - (float)floor_level;
        float u = (float)(element_hash((uint32_t)i, low, high) >> 8) * 0x1p-24f;
        int q = floor_level + (u < up);
        q = q < levels ? q : levels; /* r may round a hair above levels at |x| == s */
        work[i] = (uint8_t)(q | (x[i] < 0.0f ? sign_bit : 0));
    }
    pack(work, n, bits, payload);
    return s;
}

/* The values of codes [first, first + count) of a payload, count <= DECODE_CHUNK. */
static void decode_chunk(float scale, const uint8_t *payload, int64_t first, int64_t count, int bits,
                         float *values)
{
    uint8_t codes[DECODE_CHUNK];
    unpack(payload, first, count, bits, codes);
    const float step = scale / (float)lp_quantized_levels(bits);
    const uint8_t magnitude = (uint8_t)lp_quantized_levels(bits);
    for (int64_t i = 0; i < count; i++) {
        float v = (float)(codes[i] & magnitude) * step;
        values[i] = codes[i] > magnitude ? -v : v;
    }
}

static int64_t chunk_length(int64_t n, int64_t first) { return n - first < DECODE_CHUNK ? n - first : DECODE_CHUNK; }

void lp_quantized_decode_add(float scale, const uint8_t *payload, int64_t n, int bits, float *acc)
{
    float values[DECODE_CHUNK];
    for (int64_t first = 0; first < n; first += DECODE_CHUNK) {
        const int64_t count = chunk_length(n, first);
        decode_chunk(scale, payload, first, count, bits, values);
        for (int64_t i = 0; i < count; i++) acc[first + i] += values[i];
    }
}

void lp_quantized_decode(float scale, const uint8_t *payload, int64_t n, int bits, void *out,
                         lp_datatype_t datatype)
{
    float values[DECODE_CHUNK];
    for (int64_t first = 0; first < n; first += DECODE_CHUNK) {
        const int64_t count = chunk_length(n, first);
        if (datatype == LP_FLOAT32) {
            decode_chunk(scale, payload, first, count, bits, (float *)out + first);
            continue;
        }
        decode_chunk(scale, payload, first, count, bits, values);
        double *dst = (double *)out + first;
        for (int64_t i = 0; i < count; i++) dst[i] = values[i];
    }
}
