/* Quantized (QSGD) allreduce of float32 against MPI_Allreduce of the same
 * vector, in the same run. -b bits (2, 4, 8), -B bucket size, -S seed.
 * With -c each result is checked against the exact sum within the error
 * the quantization can make: per element, less than one level step of every
 * rank's bucket scale (stage one) plus one of the sum's (stage two), plus
 * float32 rounding. Host buffers only. */
#include "osu.h"
#include "osu_buffer.h"

#include <libpartial.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct quantized_options {
    int bits;
    int64_t bucket_size;
    uint64_t seed;
};

static int accept_option(int option, const char *argument, void *context)
{
    struct quantized_options *o = context;
    switch (option) {
    case 'b': o->bits = atoi(argument); return o->bits == 2 || o->bits == 4 || o->bits == 8 ? 0 : -1;
    case 'B': o->bucket_size = atoll(argument); return o->bucket_size >= 1 ? 0 : -1;
    case 'S': o->seed = strtoull(argument, NULL, 10); return 0;
    default: return -1;
    }
}

/* Element i of rank r's input, in [-1, 1]: every rank can rebuild every input. */
static float input_of(int rank, int64_t i) { return (float)((i * 2654435761u + (uint64_t)rank * 40503u) % 2001) / 1000.0f - 1.0f; }

struct quantized_run {
    float *send, *recv;
    int64_t n;
    const struct quantized_options *options;
    lp_comm_t comm;
    lp_result_t status;
};

static void run_quantized(void *context)
{
    struct quantized_run *run = context;
    lp_result_t rc = lp_quantized_allreduce(run->send, run->recv, run->n, LP_FLOAT32, run->options->bits,
                                            run->options->bucket_size, LP_QUANTIZED_SCALE_MAX, run->options->seed,
                                            NULL, run->comm);
    if (rc != LP_SUCCESS) run->status = rc;
}

static void run_mpi(void *context)
{
    struct quantized_run *run = context;
    MPI_Allreduce(run->send, run->recv, (int)run->n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static int validate(const struct quantized_run *run, int size)
{
    const int64_t bucket = run->options->bucket_size;
    const double levels = (double)((1 << (run->options->bits - 1)) - 1);
    int valid = 1;
    for (int64_t first = 0; first < run->n; first += bucket) {
        const int64_t end = first + bucket < run->n ? first + bucket : run->n;
        double scales = 0; /* the sum of the ranks' scales bounds the sum's scale too */
        for (int r = 0; r < size; r++) {
            double largest = 0;
            for (int64_t i = first; i < end; i++) largest = fmax(largest, fabs(input_of(r, i)));
            scales += largest;
        }
        for (int64_t i = first; i < end; i++) {
            double exact = 0;
            for (int r = 0; r < size; r++) exact += input_of(r, i);
            valid &= size == 1 ? run->recv[i] == input_of(0, i)
                               : fabs(run->recv[i] - exact) <= 2 * scales / levels + 1e-5 * scales;
        }
    }
    return valid;
}

int main(int argc, char **argv)
{
    struct quantized_options quantized = {.bits = 8, .bucket_size = 512, .seed = 1};
    struct osu_extra extra = {"b:B:S:", " [-b 2|4|8] [-B bucket_size] [-S seed]", accept_option, &quantized};
    struct osu_options options;
    struct osu_context context;
    if (osu_start(&argc, &argv, &options, &extra, &context)) return 1;
    if (context.device != OSU_DEVICE_HOST) {
        if (context.rank == 0) fprintf(stderr, "osu_quantized_allreduce: host buffers only (no -d)\n");
        osu_finish(&context);
        return 1;
    }
    const int rank = context.rank, size = context.size;
    const int64_t max_n = (int64_t)(options.max_size / sizeof(float));
    float *send = malloc(sizeof(float) * (size_t)(max_n + 1)), *recv = malloc(sizeof(float) * (size_t)(max_n + 1));
    double encode = 0, decode = 0;
    lp_result_t measured = lp_quantized_measure_codec(quantized.bits, quantized.bucket_size, LP_QUANTIZED_SCALE_MAX,
                                                      &encode, &decode);
    char note[160], codec[160];
    snprintf(note, sizeof note, "%d bits, buckets of %lld, max scale, seed %llu; float32 input in [-1, 1]",
             quantized.bits, (long long)quantized.bucket_size, (unsigned long long)quantized.seed);
    if (measured == LP_SUCCESS)
        snprintf(codec, sizeof codec, "Codec alone on rank 0's core: quantize %.2f GB/s, dequantize-and-add %.2f GB/s "
                 "of float32 input", encode / 1e9, decode / 1e9);
    else
        snprintf(codec, sizeof codec, "Codec alone: not measured (%s)", lp_result_string(measured));
    const char *notes[] = {note, "Baseline: MPI_Allreduce of the same vector, in the same run", codec};
    osu_print_header(&context, "OSU-style Quantized Allreduce Latency Test (libpartial, QSGD)", notes, 3, &options,
                     "  MPI_Allreduce(us)     Speedup");
    for (size_t bytes = options.min_size; bytes <= options.max_size; bytes *= 2) {
        const int64_t n = (int64_t)(bytes / sizeof(float));
        if (n < 1) continue;
        for (int64_t i = 0; i < n; i++) send[i] = input_of(rank, i);
        struct quantized_run run = {send, recv, n, &quantized, context.comm, LP_SUCCESS};
        struct osu_timing timing = osu_time(run_quantized, &run, &options, MPI_COMM_WORLD);
        int valid = run.status == LP_SUCCESS && (!options.validate || validate(&run, size));
        struct osu_timing baseline = osu_time(run_mpi, &run, &options, MPI_COMM_WORLD);
        char columns[64];
        snprintf(columns, sizeof columns, "%19.2f%12.2f", baseline.avg_us, baseline.avg_us / timing.avg_us);
        osu_print_row(bytes, timing, &options, columns, osu_all(valid, MPI_COMM_WORLD));
    }
    free(send);
    free(recv);
    osu_finish(&context);
    return 0;
}
