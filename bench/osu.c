#include "osu.h"

#include "osu_buffer.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank0(void)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank == 0;
}

static int parse_size_range(const char *text, struct osu_options *options)
{
    char *end;
    const char *colon = strchr(text, ':');
    if (colon) {
        options->min_size = strtoull(text, &end, 10);
        if (end != colon) return -1;
        text = colon + 1;
    }
    options->max_size = strtoull(text, &end, 10);
    if (*end != '\0' || options->max_size == 0 || options->min_size > options->max_size) return -1;
    return 0;
}

int osu_parse(int argc, char **argv, struct osu_options *options, const struct osu_extra *extra)
{
    *options = (struct osu_options){.min_size = 4, .max_size = 1 << 20, .iterations = 100, .warmup = 10};
    char optstring[128];
    snprintf(optstring, sizeof optstring, "hm:i:x:fcd:%s", extra && extra->optstring ? extra->optstring : "");
    int option;
    opterr = 0;
    while ((option = getopt(argc, argv, optstring)) != -1) {
        const char *problem = NULL;
        switch (option) {
        case 'm': if (parse_size_range(optarg, options)) problem = "-m takes [min:]max in bytes"; break;
        case 'i': options->iterations = atoi(optarg); if (options->iterations < 1) problem = "-i must be >= 1"; break;
        case 'x': options->warmup = atoi(optarg); if (options->warmup < 0) problem = "-x must be >= 0"; break;
        case 'f': options->full = 1; break;
        case 'c': options->validate = 1; break;
        case 'd': problem = osu_device_parse(optarg, &options->device); break;
        case 'h': problem = ""; break;
        default:
            if (extra && extra->accept && extra->accept(option, optarg, extra->context) == 0) break;
            problem = "unknown option";
        }
        if (problem) {
            if (rank0()) {
                if (*problem) fprintf(stderr, "%s: %s\n", argv[0], problem);
                fprintf(stderr, "usage: %s [-m [min:]max] [-i iterations] [-x warmup] [-f] [-c] [-d cuda]%s\n",
                        argv[0], extra && extra->usage ? extra->usage : "");
            }
            return 1;
        }
    }
    return 0;
}

int osu_start(int *argc, char ***argv, struct osu_options *options, const struct osu_extra *extra,
              struct osu_context *context)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &context->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &context->size);
    if (osu_parse(*argc, *argv, options, extra) != 0) {
        MPI_Finalize();
        return 1;
    }
    context->device = options->device;
    context->mpi_cuda_aware = 0;
    context->cuda_source = LP_CUDA_SOURCE_NONE;
    if (osu_device_start(context) != 0) {
        MPI_Finalize();
        return 1;
    }
    if (lp_comm_create(MPI_COMM_WORLD, &context->comm) != LP_SUCCESS) {
        fprintf(stderr, "lp_comm_create: %s\n", lp_get_last_error());
        MPI_Finalize();
        return 1;
    }
    return 0;
}

void osu_finish(struct osu_context *context)
{
    lp_comm_destroy(context->comm);
    MPI_Finalize();
}

void osu_print_header(const struct osu_context *context, const char *title, const char *const *notes, int nnotes,
                      const struct osu_options *options, const char *extra_columns)
{
    if (!rank0()) return;
    printf("# %s\n", title);
    if (context->device == OSU_DEVICE_CUDA) {
        printf("# Device buffers: cuda (%s)\n",
               context->mpi_cuda_aware ? "CUDA-aware MPI" : "staged through pinned host memory");
        printf("# CUDA-awareness from: %s; copies through pinned host memory are inside the timed region\n",
               lp_cuda_source_name(context->cuda_source));
    }
    for (int i = 0; i < nnotes; i++) printf("# %s\n", notes[i]);
    printf("%-10s%18s", "# Size", "Avg Latency(us)");
    if (options->full) printf("%18s%18s%12s", "Min Latency(us)", "Max Latency(us)", "Iterations");
    if (extra_columns) printf("%s", extra_columns);
    if (options->validate) printf("%12s", "Validation");
    printf("\n");
    fflush(stdout);
}

struct osu_timing osu_time(void (*body)(void *context), void *context, const struct osu_options *options,
                           MPI_Comm comm)
{
    MPI_Barrier(comm);
    for (int i = 0; i < options->warmup; i++) body(context);
    MPI_Barrier(comm);
    double start = MPI_Wtime();
    for (int i = 0; i < options->iterations; i++) body(context);
    double mean_us = (MPI_Wtime() - start) * 1e6 / options->iterations;
    MPI_Barrier(comm);
    int size;
    MPI_Comm_size(comm, &size);
    struct osu_timing timing;
    MPI_Allreduce(&mean_us, &timing.min_us, 1, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(&mean_us, &timing.max_us, 1, MPI_DOUBLE, MPI_MAX, comm);
    MPI_Allreduce(&mean_us, &timing.avg_us, 1, MPI_DOUBLE, MPI_SUM, comm);
    timing.avg_us /= size;
    return timing;
}

void osu_print_row(size_t size, struct osu_timing timing, const struct osu_options *options,
                   const char *extra_values, int valid)
{
    if (!rank0()) return;
    printf("%-10zu%18.2f", size, timing.avg_us);
    if (options->full) printf("%18.2f%18.2f%12d", timing.min_us, timing.max_us, options->iterations);
    if (extra_values) printf("%s", extra_values);
    if (options->validate) printf("%12s", valid ? "Pass" : "Fail");
    printf("\n");
    fflush(stdout);
}

int osu_all(int flag, MPI_Comm comm)
{
    int local = flag != 0, all = 0;
    MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_LAND, comm);
    return all;
}
