#include "osu_buffer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef OSU_WITH_CUDA
#include <cuda_runtime.h>

/* NULL once this process runs on a GPU, else what went wrong. */
static const char *cuda_use_device(int local_rank)
{
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) return cudaGetErrorString(rc);
    if (count < 1) return "no CUDA device is visible";
    rc = cudaSetDevice(local_rank % count);
    /* The context is created here, not in the first timed copy. */
    if (rc == cudaSuccess) rc = cudaFree(NULL);
    return rc == cudaSuccess ? NULL : cudaGetErrorString(rc);
}

static void *cuda_alloc(size_t bytes, int pinned_host)
{
    void *pointer = NULL;
    cudaError_t rc = pinned_host ? cudaMallocHost(&pointer, bytes) : cudaMalloc(&pointer, bytes);
    return rc == cudaSuccess ? pointer : NULL;
}

static void cuda_release(void *pointer, int pinned_host)
{
    if (pinned_host) cudaFreeHost(pointer);
    else cudaFree(pointer);
}

/* A failed copy mid-run leaves nothing to measure, and the other ranks
 * would wait in the next collective: end the job. */
static void cuda_copy(void *to, const void *from, size_t bytes)
{
    cudaError_t rc = cudaMemcpy(to, from, bytes, cudaMemcpyDefault);
    if (rc == cudaSuccess) return;
    fprintf(stderr, "cudaMemcpy of %zu bytes failed: %s\n", bytes, cudaGetErrorString(rc));
    MPI_Abort(MPI_COMM_WORLD, 1);
}
#else
/* Unreachable without CUDA: -d cuda is refused when it is parsed. */
static const char *cuda_use_device(int local_rank) { (void)local_rank; return "built without CUDA"; }
static void *cuda_alloc(size_t bytes, int pinned_host) { (void)bytes, (void)pinned_host; return NULL; }
static void cuda_release(void *pointer, int pinned_host) { (void)pointer, (void)pinned_host; }
static void cuda_copy(void *to, const void *from, size_t bytes) { memcpy(to, from, bytes); }
#endif

const char *osu_device_parse(const char *name, enum osu_device *device)
{
    if (strcmp(name, "cuda") != 0) return "-d takes cuda";
#ifdef OSU_WITH_CUDA
    *device = OSU_DEVICE_CUDA;
    return NULL;
#else
    (void)device;
    return "-d cuda: this benchmark was built without CUDA (configure with -DLP_WITH_CUDA=ON)";
#endif
}

static int node_local_rank(void)
{
    MPI_Comm node;
    int rank = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &rank);
    MPI_Comm_free(&node);
    return rank;
}

int osu_device_start(struct osu_context *context)
{
    if (context->device == OSU_DEVICE_HOST) return 0;
    char problem[320] = "";
    const char *no_device = cuda_use_device(node_local_rank());
    if (no_device) snprintf(problem, sizeof problem, "no usable CUDA device (%s)", no_device);
    else if (lp_query_cuda_support(&context->mpi_cuda_aware, &context->cuda_source) != LP_SUCCESS)
        snprintf(problem, sizeof problem, "%s", lp_get_last_error());
    int everywhere = osu_all(problem[0] == '\0', MPI_COMM_WORLD);
    if (problem[0]) fprintf(stderr, "rank %d: -d cuda: %s\n", context->rank, problem);
    else if (!everywhere) fprintf(stderr, "rank %d: -d cuda: failed on another rank\n", context->rank);
    return !everywhere;
}

static int buffer_alloc(const struct osu_context *context, struct osu_buffer *buffer)
{
    if (context->device == OSU_DEVICE_HOST) {
        buffer->data = buffer->host = malloc(buffer->bytes);
        buffer->mpi_direct = 1;
        return buffer->data != NULL;
    }
    buffer->data = cuda_alloc(buffer->bytes, 0);
    buffer->host = cuda_alloc(buffer->bytes, 1);
    buffer->mpi_direct = context->mpi_cuda_aware;
    return buffer->data != NULL && buffer->host != NULL;
}

void osu_buffers_free(struct osu_buffer *const *buffers, int n)
{
    for (int i = 0; i < n; i++) {
        struct osu_buffer *buffer = buffers[i];
        if (buffer->data == buffer->host) {
            free(buffer->data);
        } else {
            if (buffer->data) cuda_release(buffer->data, 0);
            if (buffer->host) cuda_release(buffer->host, 1);
        }
        buffer->data = buffer->host = NULL;
    }
}

int osu_buffers_alloc(const struct osu_context *context, struct osu_buffer *const *buffers, int n)
{
    int allocated = 1;
    for (int i = 0; i < n && allocated; i++) {
        allocated = buffer_alloc(context, buffers[i]);
        if (!allocated)
            fprintf(stderr, "rank %d: cannot allocate %zu bytes of %s memory\n", context->rank, buffers[i]->bytes,
                    context->device == OSU_DEVICE_HOST ? "host" : "CUDA device or pinned host");
    }
    if (osu_all(allocated, MPI_COMM_WORLD)) return 0;
    osu_buffers_free(buffers, n);
    return 1;
}

int osu_buffer_on_device(const struct osu_buffer *buffer) { return buffer->data != buffer->host; }

void osu_buffer_to_host(struct osu_buffer *buffer, size_t bytes)
{
    if (osu_buffer_on_device(buffer)) cuda_copy(buffer->host, buffer->data, bytes);
}

void osu_buffer_from_host(struct osu_buffer *buffer, size_t bytes)
{
    if (osu_buffer_on_device(buffer)) cuda_copy(buffer->data, buffer->host, bytes);
}

int osu_buffer_matches_host(const struct osu_buffer *buffer, size_t bytes)
{
    if (!osu_buffer_on_device(buffer)) return 1;
    void *copy = malloc(bytes);
    if (copy == NULL) return 0;
    cuda_copy(copy, buffer->data, bytes);
    int same = memcmp(copy, buffer->host, bytes) == 0;
    free(copy);
    return same;
}

const void *osu_mpi_input(struct osu_buffer *buffer, size_t bytes)
{
    if (buffer->mpi_direct) return buffer->data;
    osu_buffer_to_host(buffer, bytes);
    return buffer->host;
}

void *osu_mpi_output(struct osu_buffer *buffer) { return buffer->mpi_direct ? buffer->data : buffer->host; }

void osu_mpi_output_done(struct osu_buffer *buffer, size_t bytes)
{
    if (!buffer->mpi_direct) osu_buffer_from_host(buffer, bytes);
}

void osu_allreduce(struct osu_buffer *send, struct osu_buffer *recv, int count, MPI_Datatype datatype)
{
    int width = 0;
    MPI_Type_size(datatype, &width);
    const size_t bytes = (size_t)count * (size_t)width;
    MPI_Allreduce(osu_mpi_input(send, bytes), osu_mpi_output(recv), count, datatype, MPI_SUM, MPI_COMM_WORLD);
    osu_mpi_output_done(recv, bytes);
}
