/* The alpha-beta cost model behind LP_SPARSE_AUTO (its constants are in
 * core/cost_model.c), and the measurement of its local-work constants.
 * Formulas are explained in docs/sparse.md. */
#include "sparse/sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double lp_sparse_default_density_threshold(int64_t size, lp_datatype_t datatype)
{
    const double value_bytes = (double)lp_datatype_size(datatype);
    return value_bytes / (value_bytes + lp_sparse_wire_index_width(size));
}

/* Expected distinct indices in the union of k vectors of n random indices
 * each out of N: N (1 - (1 - n/N)^k). */
static double union_size(const struct lp_sparse_problem *p, double k)
{
    if (p->size == 0) return 0;
    double density = fmin(1.0, (double)p->nnz / (double)p->size);
    if (density >= 1.0) return (double)p->size;
    return (double)p->size * -expm1(k * log1p(-density));
}

static double log2_ceil(int n)
{
    int rounds = 0;
    while ((1 << rounds) < n) rounds++;
    return rounds;
}

/* Entries written by merging k = 2..P contributions in rank order: the
 * running sum after each merge, each a share of the whole index range. */
static double ordered_merge_entries(const struct lp_sparse_problem *p, double share)
{
    double entries = 0;
    for (int k = 2; k <= p->nprocs; k++) entries += union_size(p, k) * share;
    return entries;
}

/* Each rank sends its slice of every other range (slicing is free), and
 * the owner merges the P slices of its range. */
static double reduce_scatter_seconds(const struct lp_sparse_problem *p, const struct lp_cost_model *c)
{
    const double P = p->nprocs, entry = p->index_bytes + p->value_bytes;
    return (P - 1) * (c->alpha + (double)p->nnz / P * entry * c->beta) + c->gamma * ordered_merge_entries(p, 1.0 / P);
}

/* The sparse algorithms after normalization: messages and merges. */
static double sparse_exchange_seconds(lp_sparse_algorithm_t algorithm, const struct lp_sparse_problem *p,
                                      const struct lp_cost_model *c)
{
    const double P = p->nprocs, n = (double)p->nnz, N = (double)p->size;
    const double entry = p->index_bytes + p->value_bytes, dense_bytes = N * p->value_bytes;
    const double result = union_size(p, P);
    if (p->nprocs <= 1) return 0;
    switch (algorithm) {
    case LP_SPARSE_ALLGATHER:
        return (P - 1) * (c->alpha + n * entry * c->beta) + c->gamma * ordered_merge_entries(p, 1.0);
    case LP_SPARSE_RECURSIVE_DOUBLING: {
        int pow2 = 1;
        while (pow2 * 2 <= p->nprocs) pow2 *= 2;
        const int folded = p->nprocs > pow2;
        /* A rank that took in a folded rank holds two vectors from the start. */
        const double first_group = folded ? 2 : 1;
        double seconds = 0;
        if (folded) seconds += 2 * c->alpha + (n + result) * entry * c->beta + c->gamma * union_size(p, 2);
        /* Each round sends what a rank holds and writes the merged union. */
        for (int group = 1; group < pow2; group *= 2) {
            const double held = union_size(p, first_group * group);
            seconds += c->alpha + held * entry * c->beta + c->gamma * union_size(p, 2 * first_group * group);
        }
        return seconds;
    }
    case LP_SPARSE_SPLIT_ALLGATHER: /* the gathered ranges are concatenated: a copy */
        return reduce_scatter_seconds(p, c) + (P - 1) * (c->alpha + result / P * entry * c->beta) +
               c->delta * result * (sizeof(int64_t) + p->value_bytes);
    case LP_SPARSE_DSAR: {
        const int dense_ranges = result > p->density_threshold * N;
        const double range_bytes = dense_ranges ? dense_bytes / P : result / P * entry;
        return reduce_scatter_seconds(p, c) + (P - 1) * (c->alpha + range_bytes * c->beta) +
               (dense_ranges ? c->delta * dense_bytes * 2 : c->delta * result * (sizeof(int64_t) + p->value_bytes));
    }
    default:
        return HUGE_VAL;
    }
}

double lp_sparse_estimate_seconds(lp_sparse_algorithm_t algorithm, const struct lp_sparse_problem *p,
                                  const struct lp_cost_model *c)
{
    const double P = p->nprocs, n = (double)p->nnz, N = (double)p->size;
    const double entry = p->index_bytes + p->value_bytes, dense_bytes = N * p->value_bytes;
    /* The sparse algorithms sort the input first (normalization); dense
     * adds it into its dense vector unsorted. */
    const double normalize = c->gamma * n;
    if (algorithm == LP_SPARSE_DENSE)
        /* Zero and add the input, the allreduce (a reduce-scatter and an
         * allgather of the dense vector), then the scan for fill-in. */
        return c->delta * (dense_bytes * 3 + n * entry) + 2 * log2_ceil(p->nprocs) * c->alpha +
               2 * (P - 1) / P * dense_bytes * (c->beta + c->delta / 2);
    return normalize + sparse_exchange_seconds(algorithm, p, c);
}

lp_sparse_algorithm_t lp_sparse_choose(const struct lp_sparse_problem *p, const struct lp_cost_model *c)
{
    static const lp_sparse_algorithm_t candidates[] = {LP_SPARSE_SPLIT_ALLGATHER, LP_SPARSE_RECURSIVE_DOUBLING,
                                                       LP_SPARSE_ALLGATHER, LP_SPARSE_DSAR, LP_SPARSE_DENSE};
    /* The dense forms need size elements in memory; beyond that they are
     * not candidates at all (1 TiB is far past any node). */
    const int dense_possible = (double)p->size * p->value_bytes < 1099511627776.0;
    lp_sparse_algorithm_t best = LP_SPARSE_SPLIT_ALLGATHER;
    double best_seconds = HUGE_VAL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        lp_sparse_algorithm_t a = candidates[i];
        if (!dense_possible && (a == LP_SPARSE_DSAR || a == LP_SPARSE_DENSE)) continue;
        double seconds = lp_sparse_estimate_seconds(a, p, c);
        if (seconds < best_seconds) {
            best_seconds = seconds;
            best = a;
        }
    }
    return best;
}

static int fill_problem(struct lp_sparse_problem *p, int64_t size, int64_t nnz, int nprocs,
                        lp_datatype_t datatype, double density_threshold)
{
    if (size < 0 || nnz < 0 || nprocs < 1 || !lp_datatype_is_valid(datatype)) return 0;
    p->size = size;
    p->nnz = nnz < size ? nnz : size;
    p->nprocs = nprocs;
    p->index_bytes = lp_sparse_wire_index_width(size);
    p->value_bytes = (int)lp_datatype_size(datatype);
    p->density_threshold = density_threshold > 0 ? density_threshold
                                                 : lp_sparse_default_density_threshold(size, datatype);
    return 1;
}

double lp_sparse_predict_seconds(lp_sparse_algorithm_t algorithm, int64_t size, int64_t nnz, int nprocs,
                                 lp_datatype_t datatype, double density_threshold)
{
    struct lp_cost_model model = {0};
    if (lp_cost_model_get(&model) != LP_SUCCESS) return NAN;
    struct lp_sparse_problem p;
    if (!fill_problem(&p, size, nnz, nprocs, datatype, density_threshold)) return HUGE_VAL;
    if (algorithm == LP_SPARSE_AUTO) algorithm = lp_sparse_choose(&p, &model);
    return lp_sparse_estimate_seconds(algorithm, &p, &model);
}

lp_sparse_algorithm_t lp_sparse_select_with(const struct lp_cost_model *model, int64_t size, int64_t nnz,
                                            int nprocs, lp_datatype_t datatype, double density_threshold)
{
    struct lp_sparse_problem p;
    if (!fill_problem(&p, size, nnz, nprocs, datatype, density_threshold)) return LP_SPARSE_SPLIT_ALLGATHER;
    return lp_sparse_choose(&p, model);
}

lp_sparse_algorithm_t lp_sparse_select_algorithm(int64_t size, int64_t nnz, int nprocs, lp_datatype_t datatype,
                                                 double density_threshold)
{
    struct lp_cost_model model = {0};
    if (lp_cost_model_get(&model) != LP_SUCCESS) return LP_SPARSE_AUTO;
    return lp_sparse_select_with(&model, size, nnz, nprocs, datatype, density_threshold);
}

/* ---- calibration of the local constants ---------------------------------- */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

lp_result_t lp_sparse_measure_local_costs(double *seconds_per_entry, double *seconds_per_dense_byte)
{
    if (seconds_per_entry == NULL || seconds_per_dense_byte == NULL)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    enum { ENTRIES = 1 << 20, REPEATS = 5 };
    struct lp_sparse_vec a, b, sum;
    memset(&sum, 0, sizeof sum);
    LP_TRY(lp_sparse_vec_alloc(&a, ENTRIES, LP_FLOAT32));
    lp_result_t rc = lp_sparse_vec_alloc(&b, ENTRIES, LP_FLOAT32);
    if (rc != LP_SUCCESS) {
        lp_sparse_vec_free(&a);
        return rc;
    }
    /* Interleaved with a quarter in common: the branchy case real merges see. */
    for (int64_t i = 0; i < ENTRIES; i++) {
        a.indices[i] = 4 * i;
        b.indices[i] = 4 * i + (i % 4 == 0 ? 0 : 1);
        ((float *)a.values)[i] = 1.0f;
        ((float *)b.values)[i] = 2.0f;
    }
    a.nnz = b.nnz = ENTRIES;
    double best_merge = HUGE_VAL, best_dense = HUGE_VAL;
    const int64_t dense_length = 4 * (int64_t)ENTRIES;
    float *dense = malloc((size_t)dense_length * sizeof *dense);
    /* Unsorted input, as users pass it: its normalization is charged per merged entry. */
    int64_t *unsorted = malloc(sizeof(int64_t) * ENTRIES);
    struct lp_sparse_vec normalized;
    memset(&normalized, 0, sizeof normalized);
    if (dense == NULL || unsorted == NULL) rc = lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the calibration buffers");
    for (int64_t i = 0; unsorted != NULL && i < ENTRIES; i++)
        unsorted[i] = (int64_t)(((uint64_t)i * 0x9E3779B97F4A7C15ull) >> 40) % dense_length;
    for (int r = 0; r < REPEATS && rc == LP_SUCCESS; r++) {
        double start = now_seconds();
        rc = lp_sparse_normalize(unsorted, LP_INT64, a.values, LP_FLOAT32, ENTRIES, dense_length, &normalized);
        if (rc == LP_SUCCESS) rc = lp_sparse_merge_sum(&a, &b, LP_FLOAT32, &sum);
        lp_sparse_vec_free(&sum);
        lp_sparse_vec_free(&normalized);
        best_merge = fmin(best_merge, now_seconds() - start);
        start = now_seconds();
        lp_sparse_densify(a.indices, a.values, a.nnz, LP_FLOAT32, 0, dense_length, dense);
        volatile int64_t nonzero = lp_sparse_count_nonzero(dense, dense_length, LP_FLOAT32);
        (void)nonzero;
        best_dense = fmin(best_dense, now_seconds() - start);
    }
    if (rc == LP_SUCCESS) {
        *seconds_per_entry = best_merge / (2.0 * ENTRIES);
        *seconds_per_dense_byte = best_dense / (2.0 * (double)dense_length * sizeof *dense);
    }
    free(dense);
    free(unsorted);
    lp_sparse_vec_free(&a);
    lp_sparse_vec_free(&b);
    lp_sparse_vec_free(&sum);
    return rc;
}
