/* The OSU Micro-Benchmarks conventions, shared by every C benchmark here:
 * options -m [min:]max, -i, -x, -f, -c, -d; a barrier outside the timed
 * region, warm-up discarded, the per-rank mean reduced to min/avg/max; the
 * header lines and column layout of OSU's own output. */
#ifndef LP_BENCH_OSU_H
#define LP_BENCH_OSU_H

#include <libpartial.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Where the benchmark's buffers live (-d). */
enum osu_device { OSU_DEVICE_HOST = 0, OSU_DEVICE_CUDA = 1 };

struct osu_options {
    size_t min_size, max_size; /* bytes, doubled from min to max */
    int iterations, warmup;
    int full;     /* -f: min, max and iterations columns */
    int validate; /* -c: a Validation column */
    enum osu_device device; /* -d */
};

/* Benchmark-specific options: extra_optstring for getopt, extra_usage for
 * -h, and a callback returning 0 if it accepted the option. */
struct osu_extra {
    const char *optstring;
    const char *usage;
    int (*accept)(int option, const char *argument, void *context);
    void *context;
};

/* Parses argv; prints usage or an error on rank 0 and returns non-zero
 * (the caller exits) on -h or a bad option. */
int osu_parse(int argc, char **argv, struct osu_options *options, const struct osu_extra *extra);

struct osu_context {
    int rank, size;
    lp_comm_t comm; /* the library communicator over MPI_COMM_WORLD */
    enum osu_device device;       /* as options.device */
    int mpi_cuda_aware;           /* with -d cuda: MPI takes device pointers */
    lp_cuda_source_t cuda_source; /* with -d cuda: what said so */
};

/* MPI_Init_thread (MPI_THREAD_MULTIPLE), the options, the device (-d), and
 * the library communicator. Returns non-zero, with MPI already finalized,
 * when the program should exit instead (-h, a bad option, a failure). */
int osu_start(int *argc, char ***argv, struct osu_options *options, const struct osu_extra *extra,
              struct osu_context *context);
/* Frees the library communicator and finalizes MPI. */
void osu_finish(struct osu_context *context);

/* Rank 0 prints "# <title>", with -d the device lines, any extra "# ..."
 * lines, and the column header; extra_columns (may be NULL) are appended
 * after OSU's columns. */
void osu_print_header(const struct osu_context *context, const char *title, const char *const *notes, int nnotes,
                      const struct osu_options *options, const char *extra_columns);

struct osu_timing {
    double avg_us, min_us, max_us; /* of the per-rank mean latency */
};

/* Times body(context) the OSU way on comm: barrier, warm-up, barrier, timed
 * iterations; returns the per-rank mean reduced to min/avg/max. */
struct osu_timing osu_time(void (*body)(void *context), void *context, const struct osu_options *options,
                           MPI_Comm comm);

/* Rank 0 prints one data row: size, avg [min max iterations], then the
 * extra values (printf-formatted by the caller), then Pass/Fail with -c. */
void osu_print_row(size_t size, struct osu_timing timing, const struct osu_options *options,
                   const char *extra_values, int valid);

/* 1 on every rank if flag is non-zero on every rank. */
int osu_all(int flag, MPI_Comm comm);

#endif
