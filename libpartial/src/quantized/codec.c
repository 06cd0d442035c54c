/* The QSGD codec: stochastic rounding to sign-and-magnitude levels, bit
 * packing, and decoding. The loops work on fixed lanes and byte codes so
 * that the compiler vectorizes them; every rank runs the same arithmetic in
 * the same order, which is what makes the decoded values identical. */
#include "quantized/quantized.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define LANES 8
/* Each kernel is built twice, for the baseline and for AVX2 (whose 32-bit
 * multiplies the random numbers need), and the CPU picks at run time.
 * target_clones would do the same, but GCC exports its dispatchers
 * whatever the visibility. */
#if defined(__x86_64__) && defined(__GNUC__)
#define WITH_AVX2 1
#define AVX2 __attribute__((target("avx2")))
static int cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#else
#define WITH_AVX2 0
#endif
/* Helpers are inlined into each clone, so that they are built for its target too. */
#if defined(__GNUC__)
#define HELPER static inline __attribute__((always_inline))
#else
#define HELPER static inline
#endif
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
HELPER uint32_t element_hash(uint32_t counter, uint32_t low, uint32_t high)
{
    uint32_t x = counter + low;
    x ^= x >> 16;
    x *= 0x21f0aaadu;
    x ^= x >> 15;
    x ^= high;
    x *= 0x735a2d97u;
    return x ^ (x >> 15);
}

/* max |x| of x[0..n), and whether every element is finite. It compares
 * the bits of |x| as integers, whose order is the order of the values,
 * with the infinities and NaNs above every finite one: an integer max
 * reduction vectorizes, where a float one needs -ffast-math. */
HELPER float bucket_absmax(const float *x, int64_t n, int *finite)
{
    uint32_t largest = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        bits &= 0x7fffffffu;
        largest = bits > largest ? bits : largest;
    }
    *finite = largest < 0x7f800000u;
    float m;
    memcpy(&m, &largest, sizeof m);
    return m;
}

/* The L2 norm of x[0..n), summed in double so that a finite bucket's cannot overflow on the way. */
HELPER double bucket_norm(const float *x, int64_t n)
{
    double lane_sq[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) lane_sq[k] += (double)x[i + k] * x[i + k];
    for (; i < n; i++) lane_sq[0] += (double)x[i] * x[i];
    double sq = 0;
    for (int k = 0; k < LANES; k++) sq += lane_sq[k];
    return sqrt(sq);
}

/* Packs n byte codes of bits bits each into payload. */
HELPER void pack(const uint8_t *codes, int64_t n, int bits, uint8_t *payload)
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

/* The codes of each byte value, first code first. */
#define SPREAD2(b) {(b) & 3, (b) >> 2 & 3, (b) >> 4 & 3, (b) >> 6 & 3}
#define SPREAD4(b) {(b) & 15, (b) >> 4}
#define BYTES4(f, b) f(b), f(b + 1), f(b + 2), f(b + 3)
#define BYTES16(f, b) BYTES4(f, b), BYTES4(f, b + 4), BYTES4(f, b + 8), BYTES4(f, b + 12)
#define BYTES64(f, b) BYTES16(f, b), BYTES16(f, b + 16), BYTES16(f, b + 32), BYTES16(f, b + 48)
#define BYTES256(f) BYTES64(f, 0), BYTES64(f, 64), BYTES64(f, 128), BYTES64(f, 192)
static const uint8_t spread2[256][4] = {BYTES256(SPREAD2)};
static const uint8_t spread4[256][2] = {BYTES256(SPREAD4)};

/* Unpacks codes [first, first + n) of a payload into byte codes; first
 * is a multiple of DECODE_CHUNK, so it starts on a byte. */
HELPER void unpack(const uint8_t *payload, int64_t first, int64_t n, int bits, uint8_t *codes)
{
    const uint8_t *bytes = payload + first * bits / 8;
    const int per_byte = 8 / bits;
    const int64_t whole = n / per_byte;
    if (bits == 8) {
        memcpy(codes, bytes, (size_t)n);
        return;
    }
    /* A table lookup per byte: a byte's codes, in order (shifting codes out
     * one at a time does not vectorize). */
    if (bits == 4)
        for (int64_t k = 0; k < whole; k++) memcpy(codes + 2 * k, spread4[bytes[k]], 2);
    else
        for (int64_t k = 0; k < whole; k++) memcpy(codes + 4 * k, spread2[bytes[k]], 4);
    const uint8_t mask = (uint8_t)((1u << bits) - 1);
    for (int64_t i = whole * per_byte; i < n; i++)
        codes[i] = (uint8_t)(bytes[whole] >> ((i - whole * per_byte) * bits) & mask);
}

HELPER float encode(const float *x, int64_t n, int bits, lp_quantized_scale_t scale, uint64_t key,
                          uint8_t *payload, uint8_t *work)
{
    int finite;
    const float absmax = bucket_absmax(x, n, &finite);
    float s = scale == LP_QUANTIZED_SCALE_L2 && finite ? (float)bucket_norm(x, n) : absmax;
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
HELPER void decode_chunk(float scale, const uint8_t *payload, int64_t first, int64_t count, int bits,
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

HELPER void decode_add(float scale, const uint8_t *payload, int64_t n, int bits, float *acc)
{
    float values[DECODE_CHUNK];
    for (int64_t first = 0; first < n; first += DECODE_CHUNK) {
        const int64_t count = chunk_length(n, first);
        decode_chunk(scale, payload, first, count, bits, values);
        for (int64_t i = 0; i < count; i++) acc[first + i] += values[i];
    }
}

HELPER void decode(float scale, const uint8_t *payload, int64_t n, int bits, void *out,
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

/* ---- the exported kernels: one per target, chosen per call --------------- */

#if WITH_AVX2
AVX2 static float encode_avx2(const float *x, int64_t n, int bits, lp_quantized_scale_t scale, uint64_t key,
                              uint8_t *payload, uint8_t *work)
{
    return encode(x, n, bits, scale, key, payload, work);
}

AVX2 static void decode_add_avx2(float scale, const uint8_t *payload, int64_t n, int bits, float *acc)
{
    decode_add(scale, payload, n, bits, acc);
}

AVX2 static void decode_avx2(float scale, const uint8_t *payload, int64_t n, int bits, void *out,
                             lp_datatype_t datatype)
{
    decode(scale, payload, n, bits, out, datatype);
}
#endif

float lp_quantized_encode(const float *x, int64_t n, int bits, lp_quantized_scale_t scale, uint64_t key,
                          uint8_t *payload, uint8_t *work)
{
#if WITH_AVX2
    if (cpu_has_avx2()) return encode_avx2(x, n, bits, scale, key, payload, work);
#endif
    return encode(x, n, bits, scale, key, payload, work);
}

void lp_quantized_decode_add(float scale, const uint8_t *payload, int64_t n, int bits, float *acc)
{
#if WITH_AVX2
    if (cpu_has_avx2()) {
        decode_add_avx2(scale, payload, n, bits, acc);
        return;
    }
#endif
    decode_add(scale, payload, n, bits, acc);
}

void lp_quantized_decode(float scale, const uint8_t *payload, int64_t n, int bits, void *out, lp_datatype_t datatype)
{
#if WITH_AVX2
    if (cpu_has_avx2()) {
        decode_avx2(scale, payload, n, bits, out, datatype);
        return;
    }
#endif
    decode(scale, payload, n, bits, out, datatype);
}
