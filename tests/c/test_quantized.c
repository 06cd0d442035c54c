/* Quantized allreduce on inputs that quantize exactly, so that the result
 * is known to the bit: each bucket starts with the top level L on every
 * rank, which makes L the scale, and every other element is a whole level
 * a_i plus a per-rank offset that sums to zero over the ranks. Stage one
 * then rounds nothing, the sum is P * a_i with scale P * L, and stage two
 * rounds nothing either: the result is exactly P * a_i. Then the residual
 * of error feedback, which with the result makes the exact sum, and the error
 * agreement: a bad argument or a mismatch on one rank fails every rank. */
#include "check.h"

#include <math.h>
#include <string.h>

static int levels(int bits) { return (1 << (bits - 1)) - 1; }

/* a_i: the top level at each bucket's start, else a level in -(L-1)..L-1. */
static double level_of(int64_t i, int64_t bucket_size, int bits)
{
    if (i % bucket_size == 0) return levels(bits);
    uint64_t state = (uint64_t)i * 7919u;
    return (double)((int64_t)(test_random(&state) % (uint64_t)(2 * levels(bits) - 1)) - (levels(bits) - 1));
}

/* +1 on rank 0 and -1 on rank 1 for odd i: a zero-sum offset that keeps |x| <= L. */
static double offset_of(int rank, int size, int64_t i, int64_t bucket_size)
{
    if (size < 2 || i % 2 == 0 || i % bucket_size == 0) return 0;
    return rank == 0 ? 1 : rank == 1 ? -1 : 0;
}

static void run_case(lp_comm_t comm, int rank, int size, int64_t count, int bits, int64_t bucket_size,
                     lp_datatype_t datatype, int mode)
{
    const size_t width = (size_t)lp_datatype_size(datatype);
    char *send = malloc(width * (size_t)count + 1), *recv = malloc(width * (size_t)count + 1);
    for (int64_t i = 0; i < count; i++) {
        double a = level_of(i, bucket_size, bits), x = a;
        /* a level of L-1 or less leaves room for the offset */
        if (a > -levels(bits) && a < levels(bits)) x += offset_of(rank, size, i, bucket_size);
        if (datatype == LP_FLOAT32) ((float *)send)[i] = (float)x;
        else ((double *)send)[i] = x;
    }
    void *out = mode == 2 ? send : recv;
    if (mode == 1) {
        lp_request_t request;
        CHECK_OK(lp_quantized_iallreduce(send, out, count, datatype, bits, bucket_size, LP_QUANTIZED_SCALE_MAX, 42,
                                         NULL, comm, &request));
        int done = 0;
        while (!done) CHECK_OK(lp_request_test(request, &done));
        CHECK_OK(lp_request_wait(request));
    } else {
        CHECK_OK(lp_quantized_allreduce(send, out, count, datatype, bits, bucket_size, LP_QUANTIZED_SCALE_MAX, 42,
                                        NULL, comm));
    }
    for (int64_t i = 0; i < count; i++) {
        double a = level_of(i, bucket_size, bits);
        double expected = size == 1 && a > -levels(bits) && a < levels(bits) ? a + offset_of(rank, size, i, bucket_size)
                                                                             : size * a;
        double got = datatype == LP_FLOAT32 ? ((float *)out)[i] : ((double *)out)[i];
        if (got != expected) {
            fprintf(stderr, "rank %d: bits %d bucket %lld count %lld mode %d: element %lld is %g, not %g\n", rank,
                    bits, (long long)bucket_size, (long long)count, mode, (long long)i, got, expected);
            exit(1);
        }
    }
    free(send);
    free(recv);
}

/* Error feedback: the residuals of every rank plus the result make the exact
 * sum of the inputs (up to float32 rounding in the owner's sum). */
static void check_residual_conserves(lp_comm_t comm, int rank, int size, int64_t count, int bits)
{
    double *x = malloc(sizeof(double) * (size_t)count), *result = malloc(sizeof(double) * (size_t)count);
    double *residual = malloc(sizeof(double) * (size_t)count), *total = malloc(sizeof(double) * (size_t)count);
    for (int64_t i = 0; i < count; i++) {
        uint64_t state = (uint64_t)rank * 1000003u + (uint64_t)i;
        x[i] = (double)(test_random(&state) % 20001) / 1000.0 - 10.0;
    }
    CHECK_OK(lp_quantized_allreduce(x, result, count, LP_FLOAT64, bits, 50, LP_QUANTIZED_SCALE_L2, 7, residual, comm));
    for (int64_t i = 0; i < count; i++) total[i] = x[i] - residual[i];
    MPI_Allreduce(MPI_IN_PLACE, total, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double worst = 0;
    for (int64_t i = 0; i < count; i++) worst = fmax(worst, fabs(total[i] - result[i]));
    /* float32 sums of |x| <= 10 per rank: a few ulps of 10 * size */
    if (worst > 1e-5 * 10 * size) {
        fprintf(stderr, "rank %d: bits %d: residuals miss the sum by %g\n", rank, bits, worst);
        exit(1);
    }
    if (size == 1)
        for (int64_t i = 0; i < count; i++) CHECK(residual[i] == 0 && result[i] == x[i]);
    free(x);
    free(result);
    free(residual);
    free(total);
}

static void check_agreed(lp_result_t rc, lp_result_t expected)
{
    if (rc != expected) {
        fprintf(stderr, "got %s (%s), expected %s\n", lp_result_string(rc), lp_get_last_error(),
                lp_result_string(expected));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int rank, size;
    lp_comm_t comm = test_init_world(&argc, &argv, &rank, &size);
    static const int64_t counts[] = {0, 1, 3, 100, 1037, 5000};
    static const int64_t bucket_sizes[] = {1, 7, 64, 512};
    for (int bits = 2; bits <= 8; bits *= 2)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (size_t b = 0; b < sizeof bucket_sizes / sizeof *bucket_sizes; b++)
                for (int mode = 0; mode < 3; mode++)
                    run_case(comm, rank, size, counts[c], bits, bucket_sizes[b], mode % 2 ? LP_FLOAT64 : LP_FLOAT32,
                             mode);

    for (int bits = 2; bits <= 8; bits *= 2) check_residual_conserves(comm, rank, size, 1234, bits);

    float x[16] = {0}, y[16];
    check_agreed(lp_quantized_allreduce(x, y, 16, LP_FLOAT32, rank == 0 ? 3 : 4, 8, LP_QUANTIZED_SCALE_MAX, 1, NULL, comm),
                 LP_ERR_INVALID_ARGUMENT);
    check_agreed(lp_quantized_allreduce(x, y, 16, LP_FLOAT32, 4, rank == size - 1 ? 0 : 8, LP_QUANTIZED_SCALE_MAX, 1, NULL,
                                        comm),
                 LP_ERR_INVALID_ARGUMENT);
    int32_t ints[16] = {0};
    check_agreed(lp_quantized_allreduce(ints, ints, 16, LP_INT32, 4, 8, LP_QUANTIZED_SCALE_MAX, 1, NULL, comm),
                 LP_ERR_INVALID_TYPE);
    if (size > 1) {
        check_agreed(lp_quantized_allreduce(x, y, 16, LP_FLOAT32, 4, rank == 0 ? 4 : 8, LP_QUANTIZED_SCALE_MAX, 1, NULL,
                                            comm),
                     LP_ERR_MISMATCH);
        check_agreed(lp_quantized_allreduce(x, y, 16, LP_FLOAT32, 4, 8, LP_QUANTIZED_SCALE_MAX, (uint64_t)rank, NULL, comm),
                     LP_ERR_MISMATCH);
    }
    lp_request_t request;
    check_agreed(lp_quantized_iallreduce(x, y, 16, LP_FLOAT32, 4, 8, (lp_quantized_scale_t)7, 1, NULL, comm, &request),
                 LP_ERR_INVALID_ARGUMENT);
    CHECK(request == NULL);
    CHECK(lp_quantized_wire_bytes(1000, 4, 512) == 2 * 4 + 256 + 244);
    CHECK(lp_quantized_wire_bytes(1000, 3, 512) == -1);
    /* the communicator still works after the failures */
    run_case(comm, rank, size, 1000, 4, 64, LP_FLOAT32, 0);

    CHECK_OK(lp_comm_destroy(comm));
    MPI_Finalize();
    return 0;
}
