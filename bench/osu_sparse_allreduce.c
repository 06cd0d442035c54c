/* Sparse allreduce (float32 values, int32 indices) against the dense
 * MPI_Allreduce of the same vector, measured in the same run, OSU style.
 * Size is the dense vector's bytes; each rank holds density * N nonzeros. */
#include "osu.h"
#include "osu_buffer.h"

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
    struct osu_buffer *indices, *values; /* this rank's input */
    int64_t nnz, n;
    const struct sparse_options *options;
    lp_comm_t comm;
    lp_sparse_result_t last; /* kept for validation */
    lp_result_t status;
    struct osu_buffer *dense_send, *dense_recv; /* the baseline's */
    struct osu_buffer *sum; /* with -d cuda: the result, dense, in device memory */
};

/* libpartial reads and writes host memory: with -d cuda the input comes
 * from the device and the result goes back to it, dense, within the call. */
static void run_sparse(void *context)
{
    struct sparse_run *run = context;
    if (run->last) lp_sparse_result_free(run->last);
    run->last = NULL;
    osu_buffer_to_host(run->indices, sizeof(int32_t) * (size_t)run->nnz);
    osu_buffer_to_host(run->values, sizeof(float) * (size_t)run->nnz);
    lp_result_t rc = lp_sparse_allreduce(run->indices->host, LP_INT32, run->values->host, LP_FLOAT32, run->nnz,
                                         run->n, run->options->algorithm, 0.0, run->comm, &run->last);
    if (rc == LP_SUCCESS && osu_buffer_on_device(run->sum)) {
        rc = lp_sparse_result_to_dense(run->last, run->sum->host);
        osu_buffer_from_host(run->sum, sizeof(float) * (size_t)run->n);
    }
    if (rc != LP_SUCCESS) run->status = rc;
}

static void run_dense(void *context)
{
    struct sparse_run *run = context;
    osu_allreduce(run->dense_send, run->dense_recv, (int)run->n, MPI_FLOAT);
}

/* Compares the result (read back from the device with -d cuda) with the
 * dense sum of every rank's regenerated input. */
static int validate(struct sparse_run *run, int size, int32_t *indices, float *values, float *expected)
{
    memset(expected, 0, sizeof(float) * run->n);
    for (int r = 0; r < size; r++) {
        make_input(run->options, r, run->n, run->nnz, indices, values);
        for (int64_t i = 0; i < run->nnz; i++) expected[indices[i]] += values[i];
    }
    if (run->status != LP_SUCCESS) return 0;
    if (osu_buffer_on_device(run->sum)) osu_buffer_to_host(run->sum, sizeof(float) * (size_t)run->n);
    else if (lp_sparse_result_to_dense(run->last, run->sum->host) != LP_SUCCESS) return 0;
    return memcmp(expected, run->sum->host, sizeof(float) * run->n) == 0;
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

    int64_t max_n = (int64_t)(options.max_size / sizeof(float));
    int64_t max_nnz = (int64_t)ceil(sparse.density * (double)max_n) + 1;
    const size_t dense_bytes = sizeof(float) * (size_t)(max_n + 1);
    struct osu_buffer indices = {.bytes = sizeof(int32_t) * (size_t)max_nnz};
    struct osu_buffer values = {.bytes = sizeof(float) * (size_t)max_nnz};
    struct osu_buffer dense_send = {.bytes = dense_bytes}, dense_recv = {.bytes = dense_bytes};
    struct osu_buffer sum = {.bytes = dense_bytes};
    struct osu_buffer *buffers[] = {&indices, &values, &dense_send, &dense_recv, &sum};
    if (osu_buffers_alloc(&context, buffers, 5)) {
        osu_finish(&context);
        return 1;
    }
    int32_t *check_indices = malloc(sizeof(int32_t) * max_nnz);
    float *check_values = malloc(sizeof(float) * max_nnz);
    float *expected = options.validate ? malloc(dense_bytes) : NULL;

    char note[160];
    snprintf(note, sizeof note, "Algorithm: %s, density %g per rank, %s indices, float32 values, int32 indices",
             lp_sparse_algorithm_name(sparse.algorithm), sparse.density, sparse.clustered ? "clustered" : "uniform");
    const char *notes[] = {note, "Baseline: dense MPI_Allreduce of the same vector, in the same run",
                           "libpartial: input copied from the device, the sum copied back to it dense"};
    osu_print_header(&context, "OSU-style Sparse Allreduce Latency Test (libpartial)", notes,
                     context.device == OSU_DEVICE_CUDA ? 3 : 2, &options, "  MPI_Allreduce(us)     Speedup");
    for (size_t bytes = options.min_size; bytes <= options.max_size; bytes *= 2) {
        int64_t n = (int64_t)(bytes / sizeof(float));
        if (n < 1) continue;
        int64_t nnz = (int64_t)ceil(sparse.density * (double)n);
        make_input(&sparse, rank, n, nnz, indices.host, values.host);
        float *dense = dense_send.host;
        const int32_t *index = indices.host;
        const float *value = values.host;
        memset(dense, 0, sizeof(float) * n);
        for (int64_t i = 0; i < nnz; i++) dense[index[i]] += value[i];
        osu_buffer_from_host(&indices, sizeof(int32_t) * (size_t)nnz);
        osu_buffer_from_host(&values, sizeof(float) * (size_t)nnz);
        osu_buffer_from_host(&dense_send, sizeof(float) * (size_t)n);
        struct sparse_run run = {&indices, &values, nnz, n, &sparse, comm, NULL, LP_SUCCESS,
                                 &dense_send, &dense_recv, &sum};
        struct osu_timing timing = osu_time(run_sparse, &run, &options, MPI_COMM_WORLD);
        struct osu_timing dense_timing = osu_time(run_dense, &run, &options, MPI_COMM_WORLD);
        int valid = run.status == LP_SUCCESS;
        if (options.validate) valid = validate(&run, size, check_indices, check_values, expected);
        if (rank == 0 && run.last && sparse.algorithm == LP_SPARSE_AUTO)
            printf("# %zu bytes: auto chose %s\n", bytes,
                   lp_sparse_algorithm_name(lp_sparse_result_algorithm(run.last)));
        char columns[64];
        snprintf(columns, sizeof columns, "%19.2f%12.2f", dense_timing.avg_us, dense_timing.avg_us / timing.avg_us);
        osu_print_row(bytes, timing, &options, columns, osu_all(valid, MPI_COMM_WORLD));
        if (run.last) lp_sparse_result_free(run.last);
    }
    free(check_indices); free(check_values); free(expected);
    osu_buffers_free(buffers, 5);
    osu_finish(&context);
    return 0;
}
