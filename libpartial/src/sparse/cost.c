/* The alpha-beta cost model behind LP_SPARSE_AUTO, and the measurement of
 * its local-work constants. Formulas are explained in docs/sparse.md. */
#include "sparse/sparse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Defaults fitted on the target grid of docs/performance.md (N 2^16..2^24, density 0.1..50%, P 2 and 4) on a
 * shared-memory node (Open MPI 4.1, x86-64, ranks oversubscribed), choosing among the
 * constant sets with the least worst-cell regret the one nearest to what
 * `python -m partial4py.calibrate` measures locally (gamma 6.6e-9, delta 1.1e-10).
 * alpha and beta are those of a loaded node: two ranks per core halve the bandwidth a
 * ping-pong sees. LP_SPARSE_COST_MODEL names a JSON file (written by calibrate) that
 * replaces them; docs/performance.md has the fit. */
static struct lp_sparse_cost_model constants = {4.0e-6, 3.2e-10, 4.6e-9, 1.2e-10};
static pthread_once_t constants_once = PTHREAD_ONCE_INIT;
/* Why LP_SPARSE_COST_MODEL's file cannot be used; empty when it can, or
 * when lp_sparse_set_cost_model has replaced it. A bad file is an error, not
 * a quiet fall back to the defaults: auto would then run on a model the
 * user did not mean, and differ from the ranks that read the file. */
static char load_failure[768];

enum { MAX_MODEL_FILE = 64 * 1024 };

static void note_load_failure(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_load_failure(const char *path, const char *fmt, ...)
{
    char why[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    snprintf(load_failure, sizeof load_failure,
             "LP_SPARSE_COST_MODEL=%s: %s; fix or unset it, or set the model with lp_sparse_set_cost_model", path,
             why);
}

/* 1 when key is there with a number >= 0 (stored in *value), 0 when it is
 * absent, -1 when its value is anything else. */
static int read_constant(const char *json, const char *key, double *value)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *at = strstr(json, quoted);
    if (at == NULL) return 0;
    at += strlen(quoted);
    while (isspace((unsigned char)*at)) at++;
    if (*at != ':') return -1;
    char *end = NULL;
    const double parsed = strtod(at + 1, &end);
    if (end == at + 1) return -1;
    while (isspace((unsigned char)*end)) end++;
    if ((*end != ',' && *end != '}') || !isfinite(parsed) || !(parsed >= 0)) return -1;
    *value = parsed;
    return 1;
}

/* A JSON object that gives at least one constant, each a finite number >= 0;
 * the ones it leaves out keep their defaults (calibrate on one rank measures
 * no alpha or beta). Not a full JSON parser: the file is calibrate's. */
static void parse_constants(const char *path, const char *json, size_t length)
{
    const char *first = json, *last = json + length;
    while (first < last && isspace((unsigned char)*first)) first++;
    while (last > first && isspace((unsigned char)last[-1])) last--;
    if (strlen(json) != length || first == last || *first != '{' || last[-1] != '}') {
        note_load_failure(path, "not a JSON object");
        return;
    }
    static const char *const keys[4] = {"alpha", "beta", "gamma", "delta"};
    double values[4] = {constants.alpha, constants.beta, constants.gamma, constants.delta};
    int found = 0;
    for (int i = 0; i < 4; i++) {
        const int read = read_constant(json, keys[i], &values[i]);
        if (read < 0) {
            note_load_failure(path, "\"%s\" is not a finite number >= 0", keys[i]);
            return;
        }
        found += read;
    }
    if (found == 0) {
        note_load_failure(path, "names none of alpha, beta, gamma, delta");
        return;
    }
    constants = (struct lp_sparse_cost_model){values[0], values[1], values[2], values[3]};
}

static void load_constants(void)
{
    const char *path = getenv("LP_SPARSE_COST_MODEL");
    if (path == NULL || *path == '\0') return;
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        note_load_failure(path, "cannot open it: %s", strerror(errno));
        return;
    }
    char *json = malloc(MAX_MODEL_FILE + 1);
    if (json == NULL) {
        fclose(file);
        note_load_failure(path, "no memory to read it");
        return;
    }
    errno = 0;
    const size_t length = fread(json, 1, MAX_MODEL_FILE + 1, file);
    const int error = ferror(file) ? errno : 0;
    fclose(file);
    if (error != 0)
        note_load_failure(path, "cannot read it: %s", strerror(error));
    else if (length > MAX_MODEL_FILE)
        note_load_failure(path, "larger than %d KiB, so not a cost model", MAX_MODEL_FILE / 1024);
    else {
        json[length] = '\0';
        parse_constants(path, json, length);
    }
    free(json);
}

lp_result_t lp_sparse_cost_model(struct lp_sparse_cost_model *model)
{
    pthread_once(&constants_once, load_constants);
    if (load_failure[0] != '\0') return lp_fail(LP_ERR_INVALID_ARGUMENT, "%s", load_failure);
    *model = constants;
    return LP_SUCCESS;
}

lp_result_t lp_sparse_get_cost_model(double *alpha, double *beta, double *gamma, double *delta)
{
    if (alpha == NULL || beta == NULL || gamma == NULL || delta == NULL)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    struct lp_sparse_cost_model model = {0};
    LP_TRY(lp_sparse_cost_model(&model));
    *alpha = model.alpha;
    *beta = model.beta;
    *gamma = model.gamma;
    *delta = model.delta;
    return LP_SUCCESS;
}

lp_result_t lp_sparse_set_cost_model(double alpha, double beta, double gamma, double delta)
{
    const double values[] = {alpha, beta, gamma, delta};
    for (int i = 0; i < 4; i++)
        if (!(values[i] >= 0) || !isfinite(values[i]))
            return lp_fail(LP_ERR_INVALID_ARGUMENT, "cost model constant %g is not a finite number >= 0", values[i]);
    /* Read the file now, so that it cannot overwrite these later; what was
     * wrong with it no longer matters. */
    pthread_once(&constants_once, load_constants);
    constants = (struct lp_sparse_cost_model){alpha, beta, gamma, delta};
    load_failure[0] = '\0';
    return LP_SUCCESS;
}

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
static double reduce_scatter_seconds(const struct lp_sparse_problem *p, const struct lp_sparse_cost_model *c)
{
    const double P = p->nprocs, entry = p->index_bytes + p->value_bytes;
    return (P - 1) * (c->alpha + (double)p->nnz / P * entry * c->beta) + c->gamma * ordered_merge_entries(p, 1.0 / P);
}

/* The sparse algorithms after normalization: messages and merges. */
static double sparse_exchange_seconds(lp_sparse_algorithm_t algorithm, const struct lp_sparse_problem *p,
                                      const struct lp_sparse_cost_model *c)
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
                                  const struct lp_sparse_cost_model *c)
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

lp_sparse_algorithm_t lp_sparse_choose(const struct lp_sparse_problem *p, const struct lp_sparse_cost_model *c)
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
    struct lp_sparse_cost_model model = {0};
    if (lp_sparse_cost_model(&model) != LP_SUCCESS) return NAN;
    struct lp_sparse_problem p;
    if (!fill_problem(&p, size, nnz, nprocs, datatype, density_threshold)) return HUGE_VAL;
    if (algorithm == LP_SPARSE_AUTO) algorithm = lp_sparse_choose(&p, &model);
    return lp_sparse_estimate_seconds(algorithm, &p, &model);
}

lp_sparse_algorithm_t lp_sparse_select_with(const struct lp_sparse_cost_model *model, int64_t size, int64_t nnz,
                                            int nprocs, lp_datatype_t datatype, double density_threshold)
{
    struct lp_sparse_problem p;
    if (!fill_problem(&p, size, nnz, nprocs, datatype, density_threshold)) return LP_SPARSE_SPLIT_ALLGATHER;
    return lp_sparse_choose(&p, model);
}

lp_sparse_algorithm_t lp_sparse_select_algorithm(int64_t size, int64_t nnz, int nprocs, lp_datatype_t datatype,
                                                 double density_threshold)
{
    struct lp_sparse_cost_model model = {0};
    if (lp_sparse_cost_model(&model) != LP_SUCCESS) return LP_SPARSE_AUTO;
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
