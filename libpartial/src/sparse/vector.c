/* Sparse vectors: normalization of user input, merge-sum of two sorted
 * vectors, densify and sparsify. The kernels are generated once per
 * datatype so that inner loops switch on nothing and call nothing. */
#include "sparse/sparse.h"

#include <stdlib.h>
#include <string.h>

/* Integer sums wrap around as NumPy's and MPI's do; signed overflow would be
 * undefined behaviour in C. */
#define ADD_int32_t(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define ADD_int64_t(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define ADD_float(a, b) ((a) + (b))
#define ADD_double(a, b) ((a) + (b))

#define FOR_EACH_VALUE_TYPE(X) X(int32_t) X(int64_t) X(float) X(double)

void lp_sparse_vec_free(struct lp_sparse_vec *vec)
{
    lp_scratch_free(vec->storage);
    memset(vec, 0, sizeof *vec);
}

lp_result_t lp_sparse_vec_alloc(struct lp_sparse_vec *vec, int64_t capacity, lp_datatype_t datatype)
{
    memset(vec, 0, sizeof *vec);
    const int64_t entry = (int64_t)sizeof(int64_t) + lp_datatype_size(datatype);
    if (capacity < 0 || capacity > INT64_MAX / entry)
        return lp_fail(LP_ERR_NO_MEMORY, "a sparse vector of %lld entries is too large", (long long)capacity);
    /* One block: the indices, then the values. */
    vec->storage = lp_scratch_alloc((size_t)(capacity * entry));
    if (vec->storage == NULL)
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a sparse vector of %lld entries", (long long)capacity);
    vec->indices = vec->storage;
    vec->values = (char *)vec->storage + capacity * (int64_t)sizeof(int64_t);
    vec->nnz = 0;
    return LP_SUCCESS;
}

void lp_sparse_vec_move(struct lp_sparse_vec *to, struct lp_sparse_vec *from)
{
    lp_sparse_vec_free(to);
    *to = *from;
    memset(from, 0, sizeof *from);
}

/* ---- normalization ---------------------------------------------------- */

static lp_result_t index_out_of_range(int64_t index, int64_t position, int64_t size)
{
    return lp_fail(LP_ERR_INDEX_OUT_OF_RANGE, "index %lld at position %lld is outside [0, %lld)", (long long)index,
                   (long long)position, (long long)size);
}

/* Widens the user's indices to int64 while checking their range; returns
 * whether they are already strictly increasing (sorted, no repeats). */
#define DEFINE_WIDEN(T)                                                                        \
    static lp_result_t widen_##T(const T *in, int64_t count, int64_t size, int64_t *out,        \
                                 int *strictly_increasing)                                     \
    {                                                                                          \
        int increasing = 1;                                                                    \
        for (int64_t i = 0; i < count; i++) {                                                  \
            int64_t index = (int64_t)in[i];                                                    \
            if (index < 0 || index >= size) return index_out_of_range(index, i, size);         \
            if (i > 0 && index <= out[i - 1]) increasing = 0;                                  \
            out[i] = index;                                                                    \
        }                                                                                      \
        *strictly_increasing = increasing;                                                     \
        return LP_SUCCESS;                                                                     \
    }
DEFINE_WIDEN(int32_t)
DEFINE_WIDEN(int64_t)

/* The common case, all in range, runs as a branch-free (vectorizable) pass;
 * only a failure looks for the position to report. */
#define DEFINE_CHECK_RANGE(T)                                                                  \
    static lp_result_t check_range_##T(const T *in, int64_t count, int64_t size)              \
    {                                                                                          \
        int outside = 0;                                                                       \
        for (int64_t i = 0; i < count; i++) outside |= (in[i] < 0) | ((int64_t)in[i] >= size); \
        for (int64_t i = 0; outside && i < count; i++)                                         \
            if (in[i] < 0 || (int64_t)in[i] >= size) return index_out_of_range((int64_t)in[i], i, size); \
        return LP_SUCCESS;                                                                     \
    }
DEFINE_CHECK_RANGE(int32_t)
DEFINE_CHECK_RANGE(int64_t)

static lp_result_t check_arguments(const void *indices, lp_datatype_t index_type, const void *values,
                                   lp_datatype_t datatype, int64_t count, int64_t size)
{
    if (index_type != LP_INT32 && index_type != LP_INT64)
        return lp_fail(LP_ERR_INVALID_TYPE, "indices must be int32 or int64, not datatype %d", (int)index_type);
    if (!lp_datatype_is_valid(datatype))
        return lp_fail(LP_ERR_INVALID_TYPE, "datatype %d is not a libpartial datatype", (int)datatype);
    if (count < 0) return lp_fail(LP_ERR_INVALID_ARGUMENT, "nnz %lld is negative", (long long)count);
    if (size < 0) return lp_fail(LP_ERR_INVALID_ARGUMENT, "size %lld is negative", (long long)size);
    if (count > 0 && (indices == NULL || values == NULL))
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "indices or values is NULL with nnz %lld", (long long)count);
    return LP_SUCCESS;
}

lp_result_t lp_sparse_check_input(const void *indices, lp_datatype_t index_type, const void *values,
                                  lp_datatype_t datatype, int64_t count, int64_t size)
{
    LP_TRY(check_arguments(indices, index_type, values, datatype, count, size));
    return index_type == LP_INT32 ? check_range_int32_t(indices, count, size)
                                  : check_range_int64_t(indices, count, size);
}

/* Repeats add up in input order, the order a stable sort would combine them in. */
#define DEFINE_ADD_INPUT(I, T)                                                                 \
    static void add_input_##I##_##T(const I *indices, const T *values, int64_t count, T *dense) \
    {                                                                                          \
        for (int64_t i = 0; i < count; i++) dense[indices[i]] = ADD_##T(dense[indices[i]], values[i]); \
    }
#define DEFINE_ADD_INPUT_INT32(T) DEFINE_ADD_INPUT(int32_t, T)
#define DEFINE_ADD_INPUT_INT64(T) DEFINE_ADD_INPUT(int64_t, T)
FOR_EACH_VALUE_TYPE(DEFINE_ADD_INPUT_INT32)
FOR_EACH_VALUE_TYPE(DEFINE_ADD_INPUT_INT64)

#define ADD_INPUT_FOR(I)                                                                       \
    switch (datatype) {                                                                        \
    case LP_INT32: add_input_##I##_int32_t(indices, values, count, dense); return;             \
    case LP_INT64: add_input_##I##_int64_t(indices, values, count, dense); return;             \
    case LP_FLOAT32: add_input_##I##_float(indices, values, count, dense); return;             \
    default: add_input_##I##_double(indices, values, count, dense); return;                    \
    }

void lp_sparse_add_input(const void *indices, lp_datatype_t index_type, const void *values, lp_datatype_t datatype,
                         int64_t count, void *dense)
{
    if (index_type == LP_INT32) {
        ADD_INPUT_FOR(int32_t);
    }
    ADD_INPUT_FOR(int64_t);
}

/* LSD radix sort of (key, value) pairs by key. Stable, so repeated indices
 * are later summed in the order the caller gave them. Values move as raw
 * bits, so one instantiation per value width serves every datatype. The
 * histograms of all digits come from one read of the keys, and a digit that
 * is the same for every key costs no pass. 12-bit digits: two passes sort
 * indices below 2^24, four below 2^48. */
enum { RADIX_BITS = 12, RADIX_BUCKETS = 1 << RADIX_BITS };

#define DEFINE_RADIX_SORT(W)                                                                   \
    static lp_result_t radix_sort_##W(int64_t *keys, uint##W##_t *values, int64_t *key_tmp,      \
                                      uint##W##_t *value_tmp, int64_t n, int key_bits)          \
    {                                                                                          \
        const int digits = (key_bits + RADIX_BITS - 1) / RADIX_BITS;                           \
        int64_t(*counts)[RADIX_BUCKETS] = calloc((size_t)(digits > 0 ? digits : 1), sizeof *counts); \
        if (counts == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate radix histograms"); \
        for (int64_t i = 0; i < n; i++)                                                        \
            for (int d = 0; d < digits; d++) counts[d][(keys[i] >> (d * RADIX_BITS)) & (RADIX_BUCKETS - 1)]++; \
        int64_t *src_k = keys, *dst_k = key_tmp;                                               \
        uint##W##_t *src_v = values, *dst_v = value_tmp;                                       \
        for (int d = 0; d < digits; d++) {                                                     \
            const int shift = d * RADIX_BITS;                                                  \
            int64_t *offsets = counts[d];                                                      \
            if (offsets[(src_k[0] >> shift) & (RADIX_BUCKETS - 1)] == n) continue;             \
            int64_t total = 0;                                                                 \
            for (int b = 0; b < RADIX_BUCKETS; b++) {                                          \
                int64_t c = offsets[b];                                                        \
                offsets[b] = total;                                                            \
                total += c;                                                                    \
            }                                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                  \
                int64_t pos = offsets[(src_k[i] >> shift) & (RADIX_BUCKETS - 1)]++;            \
                dst_k[pos] = src_k[i];                                                         \
                dst_v[pos] = src_v[i];                                                         \
            }                                                                                  \
            int64_t *swap_k = src_k; src_k = dst_k; dst_k = swap_k;                            \
            uint##W##_t *swap_v = src_v; src_v = dst_v; dst_v = swap_v;                        \
        }                                                                                      \
        free(counts);                                                                          \
        if (src_k != keys) {                                                                   \
            memcpy(keys, src_k, (size_t)n * sizeof *keys);                                     \
            memcpy(values, src_v, (size_t)n * sizeof *values);                                 \
        }                                                                                      \
        return LP_SUCCESS;                                                                     \
    }
DEFINE_RADIX_SORT(32)
DEFINE_RADIX_SORT(64)

/* Sums runs of equal indices in place; returns the new length. */
#define DEFINE_COMBINE(T)                                                                      \
    static int64_t combine_##T(int64_t *indices, T *values, int64_t n)                         \
    {                                                                                          \
        if (n == 0) return 0;                                                                  \
        int64_t last = 0;                                                                      \
        for (int64_t i = 1; i < n; i++) {                                                      \
            if (indices[i] == indices[last]) {                                                 \
                values[last] = ADD_##T(values[last], values[i]);                               \
            } else {                                                                           \
                last++;                                                                        \
                indices[last] = indices[i];                                                    \
                values[last] = values[i];                                                      \
            }                                                                                  \
        }                                                                                      \
        return last + 1;                                                                       \
    }
FOR_EACH_VALUE_TYPE(DEFINE_COMBINE)

/* Dense-ish input is summed straight into a dense scratch array with a
 * presence bitmap: O(size + n) with cache-friendly access, where a radix
 * sort scatters n entries per pass. The first entry of an index is copied,
 * later ones added in input order, exactly as sorting stably and combining
 * would. Worth it at one entry per 8 indices; or per 128 while the scratch
 * stays small enough to be reused from the heap rather than freshly mapped
 * (page faults are what a large fresh scratch costs). */
enum { DENSE_INPUT_RATIO = 8, CACHED_INPUT_RATIO = 128, CACHED_SCRATCH_BYTES = 4 << 20 };

static int accumulate_densely(int64_t count, int64_t size, int64_t width)
{
    if (size / DENSE_INPUT_RATIO <= count) return 1;
    return size <= CACHED_SCRATCH_BYTES / width && size / CACHED_INPUT_RATIO <= count;
}

#define DEFINE_ACCUMULATE(T)                                                                   \
    static int64_t accumulate_##T(int64_t *indices, T *values, int64_t n, T *dense,            \
                                  uint64_t *present, int64_t size)                             \
    {                                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                      \
            const int64_t index = indices[i];                                                  \
            const uint64_t bit = (uint64_t)1 << (index & 63);                                  \
            if (present[index >> 6] & bit) {                                                   \
                dense[index] = ADD_##T(dense[index], values[i]);                               \
            } else {                                                                           \
                present[index >> 6] |= bit;                                                    \
                dense[index] = values[i];                                                      \
            }                                                                                  \
        }                                                                                      \
        int64_t k = 0;                                                                         \
        for (int64_t word = 0; word < (size + 63) / 64; word++) {                              \
            for (uint64_t bits = present[word]; bits != 0; bits &= bits - 1) {                \
                const int64_t index = word * 64 + __builtin_ctzll(bits);                       \
                indices[k] = index;                                                            \
                values[k++] = dense[index];                                                    \
            }                                                                                  \
        }                                                                                      \
        return k;                                                                              \
    }
FOR_EACH_VALUE_TYPE(DEFINE_ACCUMULATE)

static lp_result_t accumulate_dense(struct lp_sparse_vec *vec, lp_datatype_t datatype, int64_t size)
{
    const int64_t width = lp_datatype_size(datatype);
    const size_t present_bytes = (size_t)((size + 63) / 64) * sizeof(uint64_t);
    void *dense = lp_scratch_alloc((size_t)(size * width));
    uint64_t *present = lp_scratch_alloc(present_bytes);
    if (dense == NULL || present == NULL) {
        lp_scratch_free(dense);
        lp_scratch_free(present);
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %lld scratch values", (long long)size);
    }
    memset(present, 0, present_bytes);
    switch (datatype) {
    case LP_INT32: vec->nnz = accumulate_int32_t(vec->indices, vec->values, vec->nnz, dense, present, size); break;
    case LP_INT64: vec->nnz = accumulate_int64_t(vec->indices, vec->values, vec->nnz, dense, present, size); break;
    case LP_FLOAT32: vec->nnz = accumulate_float(vec->indices, vec->values, vec->nnz, dense, present, size); break;
    default: vec->nnz = accumulate_double(vec->indices, vec->values, vec->nnz, dense, present, size); break;
    }
    lp_scratch_free(dense);
    lp_scratch_free(present);
    return LP_SUCCESS;
}

static int bits_needed(int64_t max_value)
{
    int bits = 0;
    while (bits < 63 && (max_value >> bits) != 0) bits++;
    return bits;
}

lp_result_t lp_sparse_normalize(const void *indices, lp_datatype_t index_type, const void *values,
                                lp_datatype_t datatype, int64_t count, int64_t size,
                                struct lp_sparse_vec *out)
{
    memset(out, 0, sizeof *out);
    LP_TRY(check_arguments(indices, index_type, values, datatype, count, size));
    LP_TRY(lp_sparse_vec_alloc(out, count, datatype));

    int increasing = 1;
    lp_result_t rc = index_type == LP_INT32
                         ? widen_int32_t(indices, count, size, out->indices, &increasing)
                         : widen_int64_t(indices, count, size, out->indices, &increasing);
    if (rc != LP_SUCCESS) {
        lp_sparse_vec_free(out);
        return rc;
    }
    const int64_t width = lp_datatype_size(datatype);
    if (count > 0) memcpy(out->values, values, (size_t)(count * width));
    out->nnz = count;
    if (increasing) return LP_SUCCESS;
    if (accumulate_densely(count, size, width)) {
        rc = accumulate_dense(out, datatype, size);
        if (rc != LP_SUCCESS) lp_sparse_vec_free(out);
        return rc;
    }

    struct lp_sparse_vec scratch;
    rc = lp_sparse_vec_alloc(&scratch, count, datatype);
    if (rc != LP_SUCCESS) {
        lp_sparse_vec_free(out);
        return rc;
    }
    const int key_bits = bits_needed(size - 1);
    rc = width == 4 ? radix_sort_32(out->indices, out->values, scratch.indices, scratch.values, count, key_bits)
                    : radix_sort_64(out->indices, out->values, scratch.indices, scratch.values, count, key_bits);
    lp_sparse_vec_free(&scratch);
    if (rc != LP_SUCCESS) {
        lp_sparse_vec_free(out);
        return rc;
    }

    switch (datatype) {
    case LP_INT32: out->nnz = combine_int32_t(out->indices, out->values, count); break;
    case LP_INT64: out->nnz = combine_int64_t(out->indices, out->values, count); break;
    case LP_FLOAT32: out->nnz = combine_float(out->indices, out->values, count); break;
    default: out->nnz = combine_double(out->indices, out->values, count); break;
    }
    return LP_SUCCESS;
}

/* ---- merge-sum ---------------------------------------------------------- */

/* Where both vectors hold an index the output is a + b: IEEE addition is
 * commutative, so two ranks merging the same pair in either order get the
 * same bits. */
#define DEFINE_MERGE(T)                                                                        \
    static int64_t merge_##T(const int64_t *ai, const T *av, int64_t an, const int64_t *bi,     \
                             const T *bv, int64_t bn, int64_t *oi, T *ov)                      \
    {                                                                                          \
        int64_t i = 0, j = 0, k = 0;                                                           \
        while (i < an && j < bn) {                                                             \
            if (ai[i] < bi[j]) {                                                               \
                oi[k] = ai[i];                                                                 \
                ov[k++] = av[i++];                                                             \
            } else if (bi[j] < ai[i]) {                                                        \
                oi[k] = bi[j];                                                                 \
                ov[k++] = bv[j++];                                                             \
            } else {                                                                           \
                oi[k] = ai[i];                                                                 \
                ov[k++] = ADD_##T(av[i], bv[j]);                                               \
                i++;                                                                           \
                j++;                                                                           \
            }                                                                                  \
        }                                                                                      \
        if (i < an) {                                                                          \
            memcpy(oi + k, ai + i, (size_t)(an - i) * sizeof *oi);                             \
            memcpy(ov + k, av + i, (size_t)(an - i) * sizeof *ov);                             \
            k += an - i;                                                                       \
        }                                                                                      \
        if (j < bn) {                                                                          \
            memcpy(oi + k, bi + j, (size_t)(bn - j) * sizeof *oi);                             \
            memcpy(ov + k, bv + j, (size_t)(bn - j) * sizeof *ov);                             \
            k += bn - j;                                                                       \
        }                                                                                      \
        return k;                                                                              \
    }
FOR_EACH_VALUE_TYPE(DEFINE_MERGE)

lp_result_t lp_sparse_merge_sum(const struct lp_sparse_vec *a, const struct lp_sparse_vec *b,
                                lp_datatype_t datatype, struct lp_sparse_vec *out)
{
    struct lp_sparse_vec merged;
    LP_TRY(lp_sparse_vec_alloc(&merged, a->nnz + b->nnz, datatype));
    switch (datatype) {
#define MERGE_CASE(CODE, T)                                                                    \
    case CODE:                                                                                 \
        merged.nnz = merge_##T(a->indices, a->values, a->nnz, b->indices, b->values, b->nnz,     \
                               merged.indices, merged.values);                                 \
        break;
        MERGE_CASE(LP_INT32, int32_t)
        MERGE_CASE(LP_INT64, int64_t)
        MERGE_CASE(LP_FLOAT32, float)
        MERGE_CASE(LP_FLOAT64, double)
#undef MERGE_CASE
    default:
        lp_sparse_vec_free(&merged);
        return lp_fail(LP_ERR_INVALID_TYPE, "datatype %d is not a libpartial datatype", (int)datatype);
    }
    lp_sparse_vec_move(out, &merged);
    return LP_SUCCESS;
}

lp_result_t lp_sparse_sum_in_order(const struct lp_sparse_vec *parts, int nparts, lp_datatype_t datatype,
                                   struct lp_sparse_vec *out)
{
    static const struct lp_sparse_vec empty = {0, NULL, NULL, NULL};
    struct lp_sparse_vec total;
    memset(&total, 0, sizeof total);
    /* The first merge reads parts[0] and parts[1] directly: no copy of the first. */
    LP_TRY(lp_sparse_merge_sum(nparts > 0 ? &parts[0] : &empty, nparts > 1 ? &parts[1] : &empty, datatype, &total));
    for (int p = 2; p < nparts; p++) {
        lp_result_t rc = lp_sparse_merge_sum(&total, &parts[p], datatype, &total);
        if (rc != LP_SUCCESS) {
            lp_sparse_vec_free(&total);
            return rc;
        }
    }
    lp_sparse_vec_move(out, &total);
    return LP_SUCCESS;
}

/* ---- ranges, densify, sparsify ----------------------------------------- */

int64_t lp_sparse_lower_bound(const int64_t *indices, int64_t nnz, int64_t index)
{
    int64_t lo = 0, hi = nnz;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (indices[mid] < index) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

#define DEFINE_SCATTER(W)                                                                      \
    static void scatter_##W(const int64_t *indices, const uint##W##_t *values, int64_t nnz,      \
                            int64_t offset, uint##W##_t *dense)                                \
    {                                                                                          \
        for (int64_t i = 0; i < nnz; i++) dense[indices[i] - offset] = values[i];              \
    }
DEFINE_SCATTER(32)
DEFINE_SCATTER(64)

void lp_sparse_densify(const int64_t *indices, const void *values, int64_t nnz, lp_datatype_t datatype,
                       int64_t offset, int64_t length, void *dense)
{
    const int64_t width = lp_datatype_size(datatype);
    memset(dense, 0, (size_t)(length * width));
    if (width == 4) scatter_32(indices, values, nnz, offset, dense);
    else scatter_64(indices, values, nnz, offset, dense);
}

/* A value is stored when it compares unequal to zero (so -0.0 is dropped). */
#define DEFINE_SPARSIFY(T)                                                                     \
    static int64_t count_nonzero_##T(const T *dense, int64_t length)                           \
    {                                                                                          \
        int64_t n = 0;                                                                         \
        for (int64_t i = 0; i < length; i++) n += dense[i] != 0;                               \
        return n;                                                                              \
    }                                                                                          \
    static void gather_nonzero_##T(const T *dense, int64_t length, int64_t offset,             \
                                   int64_t *indices, T *values)                                \
    {                                                                                          \
        int64_t k = 0;                                                                         \
        for (int64_t i = 0; i < length; i++)                                                   \
            if (dense[i] != 0) {                                                               \
                indices[k] = offset + i;                                                       \
                values[k++] = dense[i];                                                        \
            }                                                                                  \
    }
FOR_EACH_VALUE_TYPE(DEFINE_SPARSIFY)

int64_t lp_sparse_count_nonzero(const void *dense, int64_t length, lp_datatype_t datatype)
{
    switch (datatype) {
    case LP_INT32: return count_nonzero_int32_t(dense, length);
    case LP_INT64: return count_nonzero_int64_t(dense, length);
    case LP_FLOAT32: return count_nonzero_float(dense, length);
    default: return count_nonzero_double(dense, length);
    }
}

lp_result_t lp_sparse_sparsify(const void *dense, int64_t length, lp_datatype_t datatype, int64_t offset,
                               int64_t nonzero, struct lp_sparse_vec *out)
{    struct lp_sparse_vec vec;
    LP_TRY(lp_sparse_vec_alloc(&vec, nonzero, datatype));
    switch (datatype) {
    case LP_INT32: gather_nonzero_int32_t(dense, length, offset, vec.indices, vec.values); break;
    case LP_INT64: gather_nonzero_int64_t(dense, length, offset, vec.indices, vec.values); break;
    case LP_FLOAT32: gather_nonzero_float(dense, length, offset, vec.indices, vec.values); break;
    default: gather_nonzero_double(dense, length, offset, vec.indices, vec.values); break;
    }
    vec.nnz = nonzero;
    lp_sparse_vec_move(out, &vec);
    return LP_SUCCESS;
}

/* ---- the wire form of indices ------------------------------------------ */

int lp_sparse_wire_index_width(int64_t size) { return size <= (int64_t)INT32_MAX + 1 ? 4 : 8; }

void lp_sparse_pack_indices(const int64_t *indices, int64_t nnz, int32_t *packed)
{
    for (int64_t i = 0; i < nnz; i++) packed[i] = (int32_t)indices[i];
}

/* The int32 indices were received into the front of the int64 array. Going
 * from the back, each 8-byte write lands on 4-byte slots already read. */
void lp_sparse_unpack_indices_in_place(int64_t *indices, int64_t nnz)
{
    const char *bytes = (const char *)indices;
    for (int64_t i = nnz - 1; i >= 0; i--) {
        int32_t narrow;
        memcpy(&narrow, bytes + i * 4, sizeof narrow);
        int64_t wide = narrow;
        memcpy((char *)indices + i * 8, &wide, sizeof wide);
    }
}
