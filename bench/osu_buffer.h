/* Benchmark buffers in host memory or, with -d cuda, in device memory with
 * a pinned host mirror that staging copies go through. Every CUDA call of
 * the benchmarks is in osu_buffer.c; without -d cuda none is made. */
#ifndef LP_BENCH_OSU_BUFFER_H
#define LP_BENCH_OSU_BUFFER_H

#include "osu.h"

struct osu_buffer {
    size_t bytes;   /* capacity: set before osu_buffers_alloc */
    void *data;     /* where the data lives: host memory, or device memory */
    void *host;     /* data itself on the host, else its pinned host mirror */
    int mpi_direct; /* MPI may be handed data (host memory, or a CUDA-aware MPI) */
};

/* -d's argument: sets *device and returns NULL, or returns why not. */
const char *osu_device_parse(const char *name, enum osu_device *device);
/* Collective. With -d cuda: binds this rank to a GPU (node-local rank
 * modulo the device count) and asks whether MPI is CUDA-aware. Returns
 * non-zero on every rank, each having said why, if any rank failed. */
int osu_device_start(struct osu_context *context);

/* Collective: allocates each buffer's bytes where context's -d says. On a
 * failure anywhere, frees them all and returns non-zero on every rank. */
int osu_buffers_alloc(const struct osu_context *context, struct osu_buffer *const *buffers, int n);
void osu_buffers_free(struct osu_buffer *const *buffers, int n);

int osu_buffer_on_device(const struct osu_buffer *buffer);
/* Copies the first bytes of data into the host mirror, or back; nothing
 * on the host, where they are one. */
void osu_buffer_to_host(struct osu_buffer *buffer, size_t bytes);
void osu_buffer_from_host(struct osu_buffer *buffer, size_t bytes);
/* Whether the first bytes of data equal the host mirror, read back. */
int osu_buffer_matches_host(const struct osu_buffer *buffer, size_t bytes);

/* For a call that hands a buffer to MPI: the pointer to give it. data when
 * MPI can take it (host memory, or a CUDA-aware MPI); else the host mirror,
 * which an input is first copied into. The copies are part of the cost. */
const void *osu_mpi_input(struct osu_buffer *buffer, size_t bytes);
void *osu_mpi_output(struct osu_buffer *buffer);
/* After that call: moves an output left in the host mirror to data. */
void osu_mpi_output_done(struct osu_buffer *buffer, size_t bytes);

/* The baselines' dense allreduce: recv = the sum of send over
 * MPI_COMM_WORLD, count elements, through osu_mpi_input/output. */
void osu_allreduce(struct osu_buffer *send, struct osu_buffer *recv, int count, MPI_Datatype datatype);

#endif
