/* Plain MPI_Allreduce (float32, sum), measured the OSU way: the baseline
 * that the other benchmarks also measure in their own runs. The extra
 * column times lp_allreduce in the same run: what the library's agreement
 * and dispatch add, and the reference for the Python layer's overhead. */
#include "osu.h"

#include <libpartial.h>

#include <stdio.h>
#include <stdlib.h>

struct allreduce_run {
    float *send, *recv;
    int count;
    lp_comm_t comm;
};

static void run_allreduce(void *context)
{
    struct allreduce_run *run = context;
    MPI_Allreduce(run->send, run->recv, run->count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static void run_lp_allreduce(void *context)
{
    struct allreduce_run *run = context;
    lp_allreduce(run->send, run->recv, run->count, LP_FLOAT32, LP_SUM, run->comm);
}

static int check_sum(const float *recv, int count, int size)
{
    int valid = 1;
    for (int i = 0; i < count; i++) {
        int expected = 0;
        for (int r = 0; r < size; r++) expected += (r + i) % 7;
        valid &= recv[i] == (float)expected;
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
    osu_print_header("OSU MPI Allreduce Latency Test (libpartial baseline, MPI_FLOAT, MPI_SUM)", NULL, 0,
                     &options, "   lp_allreduce(us)");
    size_t max_count = options.max_size / sizeof(float);
    float *send = malloc(max_count * sizeof(float) + 1), *recv = malloc(max_count * sizeof(float) + 1);
    for (size_t bytes = options.min_size; bytes <= options.max_size; bytes *= 2) {
        struct allreduce_run run = {send, recv, (int)(bytes / sizeof(float)), comm};
        /* Small integers: every partial sum is exact in float32. */
        for (int i = 0; i < run.count; i++) send[i] = (float)((rank + i) % 7);
        struct osu_timing timing = osu_time(run_allreduce, &run, &options, MPI_COMM_WORLD);
        int valid = !options.validate || check_sum(recv, run.count, size);
        struct osu_timing library = osu_time(run_lp_allreduce, &run, &options, MPI_COMM_WORLD);
        valid &= !options.validate || check_sum(recv, run.count, size);
        char extra[32];
        snprintf(extra, sizeof extra, "%19.2f", library.avg_us);
        osu_print_row(bytes, timing, &options, extra, osu_all(valid, MPI_COMM_WORLD));
        if (bytes == 0) break;
    }
    free(send);
    free(recv);
    osu_finish(&context);
    return 0;
}
