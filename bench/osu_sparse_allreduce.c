/* Sparse allreduce (float32 values, int32 indices) against the dense
 * MPI_Allreduce of the same vector, measured in the same run, OSU style.
 * Size is the dense vector's bytes; each rank holds density * N nonzeros. */
#include "osu.h"

#include <libpartial.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sparse_options {
    double density;
    lp_sparse_algorithm_t algorithm;
    int clustered;
    uint64_t seed;
};

static int accept_option(int option, const char *argument, void *context)
{
    struct sparse_options *o = context;
    switch (option) {
    case 's': o->density = atof(argument); return o->density > 0 && o->density <= 1 ? 0 : -1;
    case 'a': return lp_sparse_algorithm_from_name(argument, &o->algorithm) == LP_SUCCESS ? 0 : -1;
    case 'D':
        if (strcmp(argument, "uniform") == 0) o->clustered = 0;
        else if (strcmp(argument, "clustered") == 0) o->clustered = 1;
        else return -1;
        return 0;
    case 'S': o->seed = strtoull(argument, NULL, 10); return 0;
    default: return -1;
    }
}

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One rank's input: uniform random indices, or one contiguous cluster at a
 * random offset; values are small integers, so every float32 sum is exact. */
static void make_input(const struct sparse_options *o, int rank, int64_t n, int64_t nnz, int32_t *indices,
                       float *values)
{
    uint64_t state = o->seed * 1000003u + (uint64_t)rank * 7919u + (uint64_t)n;
    int64_t start = (int64_t)(next_random(&state) % (uint64_t)n);
    for (int64_t i = 0; i < nnz; i++) {
        indices[i] = (int32_t)(o->clustered ? (start + i) % n : (int64_t)(next_random(&state) % (uint64_t)n));
        values[i] = (float)(1 + next_random(&state) % 8);
    }
}

struct sparse_run {
    const int32_t *indices;
    const float *values;
    int64_t nnz, n;
    const struct sparse_options *options;
    lp_comm_t comm;
    lp_sparse_result_t last; /* kept for validation */
    lp_result_t status;
    float *dense_send, *dense_recv;
};

static void run_sparse(void *context)
{
    struct sparse_run *run = context;
    if (run->last) lp_sparse_result_free(run->last);
    run->last = NULL;
    lp_result_t rc = lp_sparse_allreduce(run->indices, LP_INT32, run->values, LP_FLOAT32, run->nnz, run->n,
                                         run->options->algorithm, 0.0, run->comm, &run->last);
    if (rc != LP_SUCCESS) run->status = rc;
}

static void run_dense(void *context)
{
    struct sparse_run *run = context;
    MPI_Allreduce(run->dense_send, run->dense_recv, (int)run->n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

/* Compares the result with the dense sum of every rank's regenerated input. */
static int validate(struct sparse_run *run, int size, int32_t *indices, float *values, float *expected,
                    float *actual)
{
    memset(expected, 0, sizeof(float) * run->n);
    for (int r = 0; r < size; r++) {
        make_input(run->options, r, run->n, run->nnz, indices, values);
        for (int64_t i = 0; i < run->nnz; i++) expected[indices[i]] += values[i];
    }
    if (run->status != LP_SUCCESS || lp_sparse_result_to_dense(run->last, actual) != LP_SUCCESS) return 0;
    return memcmp(expected, actual, sizeof(float) * run->n) == 0;
}

int main(int argc, char **argv)
{
    struct sparse_options sparse = {.density = 0.01, .algorithm = LP_SPARSE_AUTO, .seed = 1};
    struct osu_extra extra = {"s:a:D:S:", " [-s density] [-a algorithm|auto] [-D uniform|clustered] [-S seed]",
                              accept_option, &sparse};
    struct osu_options options;
    struct osu_context context;
    if (osu_start(&argc, &argv, &options, &extra, &context)) return 1;
    const int rank = context.rank, size = context.size;
    const lp_comm_t comm = context.comm;
    char note[160];
    snprintf(note, sizeof note, "Algorithm: %s, density %g per rank, %s indices, float32 values, int32 indices",
             lp_sparse_algorithm_name(sparse.algorithm), sparse.density, sparse.clustered ? "clustered" : "uniform");
    const char *notes[] = {note, "Baseline: dense MPI_Allreduce of the same vector, in the same run"};
    osu_print_header("OSU-style Sparse Allreduce Latency Test (libpartial)", notes, 2, &options,
                     "  MPI_Allreduce(us)     Speedup");

    int64_t max_n = (int64_t)(options.max_size / sizeof(float));
    int64_t max_nnz = (int64_t)ceil(sparse.density * (double)max_n) + 1;
    int32_t *indices = malloc(sizeof(int32_t) * max_nnz), *check_indices = malloc(sizeof(int32_t) * max_nnz);
    float *values = malloc(sizeof(float) * max_nnz), *check_values = malloc(sizeof(float) * max_nnz);
    float *dense_send = calloc(max_n + 1, sizeof(float)), *dense_recv = malloc(sizeof(float) * (max_n + 1));
    float *expected = options.validate ? malloc(sizeof(float) * (max_n + 1)) : NULL;
    for (size_t bytes = options.min_size; bytes <= options.max_size; bytes *= 2) {
        int64_t n = (int64_t)(bytes / sizeof(float));
        if (n < 1) continue;
        int64_t nnz = (int64_t)ceil(sparse.density * (double)n);
        make_input(&sparse, rank, n, nnz, indices, values);
        memset(dense_send, 0, sizeof(float) * n);
        for (int64_t i = 0; i < nnz; i++) dense_send[indices[i]] += values[i];
        struct sparse_run run = {indices, values, nnz, n, &sparse, comm, NULL, LP_SUCCESS, dense_send, dense_recv};
        struct osu_timing timing = osu_time(run_sparse, &run, &options, MPI_COMM_WORLD);
        struct osu_timing dense = osu_time(run_dense, &run, &options, MPI_COMM_WORLD);
        int valid = run.status == LP_SUCCESS;
        if (options.validate) valid = validate(&run, size, check_indices, check_values, expected, dense_recv);
        if (rank == 0 && run.last && sparse.algorithm == LP_SPARSE_AUTO)
            printf("# %zu bytes: auto chose %s\n", bytes, lp_sparse_algorithm_name(lp_sparse_result_algorithm(run.last)));
        char columns[64];
        snprintf(columns, sizeof columns, "%19.2f%12.2f", dense.avg_us, dense.avg_us / timing.avg_us);
        osu_print_row(bytes, timing, &options, columns, osu_all(valid, MPI_COMM_WORLD));
        if (run.last) lp_sparse_result_free(run.last);
    }
    free(indices); free(check_indices); free(values); free(check_values);
    free(dense_send); free(dense_recv); free(expected);
    osu_finish(&context);
    return 0;
}
