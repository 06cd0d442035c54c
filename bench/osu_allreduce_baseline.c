/* Plain MPI_Allreduce (float32, sum), measured the OSU way: the baseline
 * that the other benchmarks also measure in their own runs. The extra
 * column times lp_allreduce in the same run: what the library's agreement
 * and dispatch add, and the reference for the Python layer's overhead.
 * With -d cuda both are handed device pointers if MPI is CUDA-aware (as
 * lp_allreduce only passes them on to MPI), else they copy through pinned
 * host memory. */
#include "osu.h"
#include "osu_buffer.h"

#include <libpartial.h>

#include <stdio.h>

struct allreduce_run {
    struct osu_buffer *send, *recv;
    int count;
    lp_comm_t comm;
};

static void run_allreduce(void *context)
{
    struct allreduce_run *run = context;
    osu_allreduce(run->send, run->recv, run->count, MPI_FLOAT);
}

static void run_lp_allreduce(void *context)
{
    struct allreduce_run *run = context;
    const size_t bytes = sizeof(float) * (size_t)run->count;
    lp_allreduce(osu_mpi_input(run->send, bytes), osu_mpi_output(run->recv), run->count, LP_FLOAT32, LP_SUM,
                 run->comm);
    osu_mpi_output_done(run->recv, bytes);
}

/* Reads the result back from where it lives (the device, with -d cuda). */
static int check_sum(struct osu_buffer *recv, int count, int size)
{
    osu_buffer_to_host(recv, sizeof(float) * (size_t)count);
    const float *sum = recv->host;
    int valid = 1;
    for (int i = 0; i < count; i++) {
        int expected = 0;
        for (int r = 0; r < size; r++) expected += (r + i) % 7;
        valid &= sum[i] == (float)expected;
    }
    return valid;
}

int main(int argc, char **argv)
{
    struct osu_options options;
    struct osu_context context;
    if (osu_start(&argc, &argv, &options, NULL, &context)) return 1;
    const int rank = context.rank, size = context.size;
    const lp_comm_t comm = context.comm;
    struct osu_buffer send = {.bytes = options.max_size + 1}, recv = {.bytes = options.max_size + 1};
    struct osu_buffer *buffers[] = {&send, &recv};
    if (osu_buffers_alloc(&context, buffers, 2)) {
        osu_finish(&context);
        return 1;
    }
    osu_print_header(&context, "OSU MPI Allreduce Latency Test (libpartial baseline, MPI_FLOAT, MPI_SUM)", NULL, 0,
                     &options, "   lp_allreduce(us)");
    for (size_t bytes = options.min_size; bytes <= options.max_size; bytes *= 2) {
        struct allreduce_run run = {&send, &recv, (int)(bytes / sizeof(float)), comm};
        /* Small integers: every partial sum is exact in float32. */
        float *values = send.host;
        for (int i = 0; i < run.count; i++) values[i] = (float)((rank + i) % 7);
        osu_buffer_from_host(&send, sizeof(float) * (size_t)run.count);
        struct osu_timing timing = osu_time(run_allreduce, &run, &options, MPI_COMM_WORLD);
        int valid = !options.validate || check_sum(&recv, run.count, size);
        struct osu_timing library = osu_time(run_lp_allreduce, &run, &options, MPI_COMM_WORLD);
        valid &= !options.validate || check_sum(&recv, run.count, size);
        char extra[32];
        snprintf(extra, sizeof extra, "%19.2f", library.avg_us);
        osu_print_row(bytes, timing, &options, extra, osu_all(valid, MPI_COMM_WORLD));
        if (bytes == 0) break;
    }
    osu_buffers_free(buffers, 2);
    osu_finish(&context);
    return 0;
}
