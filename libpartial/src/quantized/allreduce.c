/* Quantized allreduce: the argument agreement, and the two exchanges (a
 * reduce-scatter of quantized blocks, then an allgather of the re-quantized
 * sums) as a state machine that a request advances. */
#include "core/core.h"
#include "quantized/quantized.h"

#include <stdlib.h>
#include <string.h>

static const char *const scale_names[LP_QUANTIZED_NUM_SCALES] = {
    [LP_QUANTIZED_SCALE_MAX] = "max",
    [LP_QUANTIZED_SCALE_L2] = "l2",
};

LP_DEFINE_NAME_LOOKUP(lp_quantized_scale_name, lp_quantized_scale_from_name, lp_quantized_scale_t, scale_names,
                      LP_QUANTIZED_NUM_SCALES, "quantized scale")

enum { REDUCE_SCATTER_TAG = 0, ALLGATHER_TAG = 1 };
enum { STAGE_REDUCE_SCATTER, STAGE_ALLGATHER, STAGE_DONE };

struct quantized_op {
    lp_comm_t comm;
    const void *sendbuf;
    void *recvbuf;
    void *residual;       /* NULL, or where this rank's rounding error goes */
    lp_datatype_t datatype;
    lp_quantized_scale_t scale;
    struct lp_quantized_layout layout;
    uint64_t seed;
    uint32_t call;
    int tag_base, stage;
    uint8_t *wire;        /* the whole quantized vector, in layout order */
    uint8_t *inbox;       /* this rank's block from each peer, in peer order */
    float *sum;           /* this rank's block, summed in float32 */
    float *converted;     /* one float64 bucket as float32 */
    uint8_t *codes;       /* one bucket's byte codes */
    float *decoded;       /* one bucket decoded, for the residual */
    MPI_Request *requests;
    int64_t nrequests, capacity;
};

static int valid_bits(int bits) { return bits == 2 || bits == 4 || bits == 8; }

int64_t lp_quantized_wire_bytes(int64_t count, int bits, int64_t bucket_size)
{
    if (count < 0 || !valid_bits(bits) || bucket_size < 1) return -1;
    struct lp_quantized_layout layout = lp_quantized_layout(count, bits, bucket_size, 1);
    return lp_quantized_block_offset(&layout, 1);
}

static lp_result_t check_args(const void *sendbuf, const void *recvbuf, const void *residual, int64_t count,
                              lp_datatype_t datatype, int bits, int64_t bucket_size, lp_quantized_scale_t scale)
{
    LP_TRY(lp_check_reduction_args(sendbuf, recvbuf, count, datatype, LP_SUM));
    if (residual != NULL && count > 0 && (residual == sendbuf || residual == recvbuf))
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "residual must be a buffer of its own, not sendbuf or recvbuf");
    if (datatype != LP_FLOAT32 && datatype != LP_FLOAT64)
        return lp_fail(LP_ERR_INVALID_TYPE, "quantized allreduce takes float32 or float64, not %s",
                       lp_datatype_names[datatype]);
    if (!valid_bits(bits)) return lp_fail(LP_ERR_INVALID_ARGUMENT, "bits is %d; it must be 2, 4 or 8", bits);
    if (bucket_size < 1)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "bucket_size %lld must be at least 1", (long long)bucket_size);
    if ((int)scale < 0 || scale >= LP_QUANTIZED_NUM_SCALES)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "scale %d is not an lp_quantized_scale_t", (int)scale);
    return LP_SUCCESS;
}

static void op_destroy(struct quantized_op *op)
{
    if (op == NULL) return;
    lp_scratch_free(op->wire);
    lp_scratch_free(op->inbox);
    lp_scratch_free(op->sum);
    free(op->converted);
    free(op->codes);
    free(op->decoded);
    free(op->requests);
    free(op);
}

static int me(const struct quantized_op *op) { return op->comm->rank; }

static int64_t block_elements(const struct quantized_op *op, int block)
{
    const int64_t first = lp_quantized_first_bucket(&op->layout, block) * op->layout.bucket_size;
    const int64_t end = lp_quantized_first_bucket(&op->layout, block + 1) * op->layout.bucket_size;
    return (end < op->layout.count ? end : op->layout.count) - first;
}

/* Requests of one exchange: each peer's share of this rank's block, and
 * this rank's share of each peer's, in MPI-sized chunks. */
static int64_t exchange_requests(const struct quantized_op *op)
{
    int64_t n = 0;
    for (int peer = 0; peer < op->comm->size; peer++)
        if (peer != me(op))
            n += lp_mpi_chunk_count(lp_quantized_block_bytes(&op->layout, me(op))) +
                 lp_mpi_chunk_count(lp_quantized_block_bytes(&op->layout, peer));
    return n;
}

/* Everything a call allocates, before the agreement: past it nothing can fail but MPI. */
static lp_result_t op_create(lp_comm_t comm, const void *sendbuf, void *recvbuf, void *residual, int64_t count,
                             lp_datatype_t datatype, int bits, int64_t bucket_size, lp_quantized_scale_t scale,
                             uint64_t seed, struct quantized_op **out)
{
    struct quantized_op *op = calloc(1, sizeof *op);
    if (op == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a quantized allreduce");
    *op = (struct quantized_op){.comm = comm, .sendbuf = sendbuf, .recvbuf = recvbuf, .residual = residual,
                                .datatype = datatype, .scale = scale, .seed = seed};
    op->layout = lp_quantized_layout(count, bits, bucket_size, comm->size);
    *out = op;
    if (comm->size == 1 || count == 0) return LP_SUCCESS; /* nothing travels */
    const struct lp_quantized_layout *layout = &op->layout;
    const int64_t mine = lp_quantized_block_bytes(layout, comm->rank);
    const int64_t longest_bucket = bucket_size < count ? bucket_size : count;
    op->capacity = exchange_requests(op);
    op->wire = lp_scratch_alloc((size_t)lp_quantized_block_offset(layout, comm->size));
    op->inbox = lp_scratch_alloc((size_t)(mine * (comm->size - 1)) + 1);
    op->sum = lp_scratch_alloc((size_t)block_elements(op, comm->rank) * sizeof(float) + 1);
    op->codes = malloc((size_t)longest_bucket);
    op->converted = datatype == LP_FLOAT64 ? malloc((size_t)longest_bucket * sizeof(float)) : NULL;
    op->decoded = residual != NULL ? malloc((size_t)longest_bucket * sizeof(float)) : NULL;
    op->requests = malloc((size_t)(op->capacity + 1) * sizeof *op->requests);
    if (op->wire == NULL || op->inbox == NULL || op->sum == NULL || op->codes == NULL || op->requests == NULL ||
        (datatype == LP_FLOAT64 && op->converted == NULL) || (residual != NULL && op->decoded == NULL))
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the buffers of a quantized allreduce of %lld elements",
                       (long long)count);
    return LP_SUCCESS;
}

/* Bucket b of the input as float32. */
static const float *input_bucket(struct quantized_op *op, int64_t b)
{
    const int64_t first = b * op->layout.bucket_size, n = lp_quantized_bucket_length(&op->layout, b);
    if (op->datatype == LP_FLOAT32) return (const float *)op->sendbuf + first;
    const double *x = (const double *)op->sendbuf + first;
    for (int64_t i = 0; i < n; i++) op->converted[i] = (float)x[i];
    return op->converted;
}

/* Where bucket b of block lies in a block's bytes that start at base. */
static uint8_t *scale_at(const struct quantized_op *op, uint8_t *base, int block, int64_t b)
{
    return base + sizeof(float) * (size_t)(b - lp_quantized_first_bucket(&op->layout, block));
}

static uint8_t *payload_at(const struct quantized_op *op, uint8_t *base, int block, int64_t b)
{
    const int64_t first = lp_quantized_first_bucket(&op->layout, block);
    const int64_t buckets = lp_quantized_first_bucket(&op->layout, block + 1) - first;
    return base + sizeof(float) * (size_t)buckets + (size_t)((b - first) * op->layout.bucket_bytes);
}

static float scale_of(const uint8_t *at)
{
    float scale;
    memcpy(&scale, at, sizeof scale);
    return scale;
}

/* residual = what this rank meant to send of bucket b (its input in stage
 * one, in the input's precision; its block's sum in stage two) minus what
 * the others decode of it. Summed over the ranks, the residuals are the
 * input's sum minus the result: feeding them back loses nothing. */
static void store_residual(struct quantized_op *op, int64_t b, int stage, const float *sum, float scale,
                           const uint8_t *payload)
{
    const int64_t first = b * op->layout.bucket_size, n = lp_quantized_bucket_length(&op->layout, b);
    lp_quantized_decode(scale, payload, n, op->layout.bits, op->decoded, LP_FLOAT32);
    if (op->datatype == LP_FLOAT64) {
        double *residual = (double *)op->residual + first;
        const double *input = (const double *)op->sendbuf + first;
        for (int64_t i = 0; i < n; i++) residual[i] = (stage == 0 ? input[i] : (double)sum[i]) - op->decoded[i];
    } else {
        float *residual = (float *)op->residual + first;
        const float *input = stage == 0 ? (const float *)op->sendbuf + first : sum;
        for (int64_t i = 0; i < n; i++) residual[i] = input[i] - op->decoded[i];
    }
}

/* Quantizes buckets of block from x(b) into base, the block's bytes, with stage's random numbers. */
static void encode_block(struct quantized_op *op, int block, int stage, uint8_t *base)
{
    const int64_t end = lp_quantized_first_bucket(&op->layout, block + 1);
    const int64_t block_first_element = lp_quantized_first_bucket(&op->layout, block) * op->layout.bucket_size;
    for (int64_t b = lp_quantized_first_bucket(&op->layout, block); b < end; b++) {
        const float *sum = stage == 0 ? NULL : op->sum + (b * op->layout.bucket_size - block_first_element);
        const float *x = stage == 0 ? input_bucket(op, b) : sum;
        const uint64_t key = lp_quantized_key(op->seed, me(op), op->call, b, stage);
        uint8_t *payload = payload_at(op, base, block, b);
        const float scale = lp_quantized_encode(x, lp_quantized_bucket_length(&op->layout, b), op->layout.bits,
                                                op->scale, key, payload, op->codes);
        memcpy(scale_at(op, base, block, b), &scale, sizeof scale);
        if (op->residual != NULL) store_residual(op, b, stage, sum, scale, payload);
    }
}

static lp_result_t post(struct quantized_op *op, int send, void *buffer, int64_t bytes, int peer, int tag)
{
    for (struct lp_chunks c = lp_mpi_chunks(bytes); lp_chunks_next(&c);) {
        MPI_Request *request = &op->requests[op->nrequests++];
        char *at = (char *)buffer + c.offset;
        if (send)
            LP_TRY_MPI(MPI_Isend(at, c.count, MPI_BYTE, peer, op->tag_base + tag, op->comm->comm, request));
        else
            LP_TRY_MPI(MPI_Irecv(at, c.count, MPI_BYTE, peer, op->tag_base + tag, op->comm->comm, request));
    }
    return LP_SUCCESS;
}

/* The peers in the order this rank sends to them: from the next rank on,
 * so that no rank is everyone's first destination. */
static int peer_in_turn(const struct quantized_op *op, int turn) { return (me(op) + 1 + turn) % op->comm->size; }

static uint8_t *inbox_slot(struct quantized_op *op, int peer)
{
    const int slot = peer < me(op) ? peer : peer - 1;
    return op->inbox + (size_t)slot * (size_t)lp_quantized_block_bytes(&op->layout, me(op));
}

static uint8_t *wire_block(struct quantized_op *op, int block)
{
    return op->wire + lp_quantized_block_offset(&op->layout, block);
}

/* Each peer's block is quantized and sent as soon as it is ready. */
static lp_result_t start_reduce_scatter(struct quantized_op *op)
{
    const int64_t mine = lp_quantized_block_bytes(&op->layout, me(op));
    for (int turn = 0; turn < op->comm->size - 1; turn++) {
        const int peer = peer_in_turn(op, turn);
        LP_TRY(post(op, 0, inbox_slot(op, peer), mine, peer, REDUCE_SCATTER_TAG));
    }
    for (int turn = 0; turn < op->comm->size - 1; turn++) {
        const int peer = peer_in_turn(op, turn);
        encode_block(op, peer, 0, wire_block(op, peer));
        LP_TRY(post(op, 1, wire_block(op, peer), lp_quantized_block_bytes(&op->layout, peer), peer,
                    REDUCE_SCATTER_TAG));
    }
    return LP_SUCCESS;
}

/* Sums this rank's block in rank order, bucket by bucket (so that the sum
 * stays in cache), its own contribution unquantized. */
static void reduce_block(struct quantized_op *op)
{
    const int block = me(op);
    const int64_t first = lp_quantized_first_bucket(&op->layout, block);
    const int64_t end = lp_quantized_first_bucket(&op->layout, block + 1);
    for (int64_t b = first; b < end; b++) {
        const int64_t n = lp_quantized_bucket_length(&op->layout, b);
        float *sum = op->sum + (b - first) * op->layout.bucket_size;
        memset(sum, 0, (size_t)n * sizeof *sum);
        for (int rank = 0; rank < op->comm->size; rank++) {
            if (rank == block) {
                const float *own = input_bucket(op, b);
                for (int64_t i = 0; i < n; i++) sum[i] += own[i];
                continue;
            }
            uint8_t *slot = inbox_slot(op, rank);
            lp_quantized_decode_add(scale_of(scale_at(op, slot, block, b)), payload_at(op, slot, block, b), n,
                                    op->layout.bits, sum);
        }
    }
}

static lp_result_t start_allgather(struct quantized_op *op)
{
    reduce_block(op);
    encode_block(op, me(op), 1, wire_block(op, me(op)));
    op->nrequests = 0;
    for (int turn = 0; turn < op->comm->size - 1; turn++) {
        const int peer = peer_in_turn(op, turn);
        LP_TRY(post(op, 0, wire_block(op, peer), lp_quantized_block_bytes(&op->layout, peer), peer, ALLGATHER_TAG));
    }
    for (int turn = 0; turn < op->comm->size - 1; turn++)
        LP_TRY(post(op, 1, wire_block(op, me(op)), lp_quantized_block_bytes(&op->layout, me(op)),
                    peer_in_turn(op, turn), ALLGATHER_TAG));
    return LP_SUCCESS;
}

static void decode_result(struct quantized_op *op)
{
    const int64_t width = lp_datatype_size(op->datatype);
    for (int block = 0; block < op->comm->size; block++) {
        const int64_t end = lp_quantized_first_bucket(&op->layout, block + 1);
        for (int64_t b = lp_quantized_first_bucket(&op->layout, block); b < end; b++)
            lp_quantized_decode(scale_of(scale_at(op, wire_block(op, block), block, b)),
                                payload_at(op, wire_block(op, block), block, b),
                                lp_quantized_bucket_length(&op->layout, b), op->layout.bits,
                                (char *)op->recvbuf + b * op->layout.bucket_size * width, op->datatype);
    }
}

/* Moves the operation on as far as its messages allow; blocking waits for them. */
static lp_result_t op_progress(struct quantized_op *op, int blocking, int *done)
{
    while (op->stage != STAGE_DONE) {
        int complete = 1;
        if (blocking)
            LP_TRY(lp_waitall(op->requests, op->nrequests));
        else
            LP_TRY(lp_testall(op->requests, op->nrequests, &complete));
        if (!complete) break;
        if (op->stage == STAGE_REDUCE_SCATTER) {
            op->stage = STAGE_ALLGATHER;
            LP_TRY(start_allgather(op));
        } else {
            decode_result(op);
            op->stage = STAGE_DONE;
        }
    }
    *done = op->stage == STAGE_DONE;
    return LP_SUCCESS;
}

/* Checks locally, allocates, agrees across ranks, and posts the first exchange. */
static lp_result_t start(const void *sendbuf, void *recvbuf, int64_t count, lp_datatype_t datatype, int bits,
                         int64_t bucket_size, lp_quantized_scale_t scale, uint64_t seed, void *residual,
                         lp_comm_t comm, struct quantized_op **out)
{
    *out = NULL;
    LP_TRY(lp_check_comm(comm));
    struct quantized_op *op = NULL;
    lp_result_t rc = check_args(sendbuf, recvbuf, residual, count, datatype, bits, bucket_size, scale);
    if (rc == LP_SUCCESS)
        rc = op_create(comm, sendbuf, recvbuf, residual, count, datatype, bits, bucket_size, scale, seed, &op);
    static const struct lp_param described[] = {
        LP_PARAM_INT("count"), LP_PARAM_NAMED("dtype", lp_datatype_names), LP_PARAM_INT("bits"),
        LP_PARAM_INT("bucket_size"), LP_PARAM_NAMED("scale", scale_names), LP_PARAM_INT("seed"),
    };
    const int64_t params[] = {count, (int64_t)datatype, bits, bucket_size, (int64_t)scale, (int64_t)seed};
    rc = lp_comm_agree_max(comm, rc, params, described, 6, NULL, 0);
    if (rc != LP_SUCCESS) {
        op_destroy(op);
        return rc;
    }
    op->call = comm->op_sequence;
    op->tag_base = lp_comm_next_tag_base(comm);
    if (comm->size == 1 || count == 0) {
        const size_t bytes = (size_t)(count * lp_datatype_size(datatype));
        if (sendbuf != recvbuf && count > 0) memcpy(recvbuf, sendbuf, bytes);
        if (residual != NULL && count > 0) memset(residual, 0, bytes); /* nothing was rounded */
        op->stage = STAGE_DONE;
    } else {
        rc = start_reduce_scatter(op);
    }
    if (rc != LP_SUCCESS) {
        lp_waitall(op->requests, op->nrequests); /* never leave a started request behind */
        op_destroy(op);
        return rc;
    }
    *out = op;
    return LP_SUCCESS;
}

lp_result_t lp_quantized_allreduce(const void *sendbuf, void *recvbuf, int64_t count, lp_datatype_t datatype,
                                   int bits, int64_t bucket_size, lp_quantized_scale_t scale, uint64_t seed,
                                   void *residual, lp_comm_t comm)
{
    struct quantized_op *op;
    LP_TRY(start(sendbuf, recvbuf, count, datatype, bits, bucket_size, scale, seed, residual, comm, &op));
    int done = 0;
    lp_result_t rc = op_progress(op, 1, &done);
    op_destroy(op);
    return rc;
}

static lp_result_t iquantized_test(lp_request_t request, int *done)
{
    return op_progress(request->state, 0, done);
}

static lp_result_t iquantized_wait(lp_request_t request)
{
    int done = 0;
    return op_progress(request->state, 1, &done);
}

static void iquantized_release(void *state) { op_destroy(state); }

static const struct lp_request_ops iquantized_ops = {iquantized_test, iquantized_wait, iquantized_release};

lp_result_t lp_quantized_iallreduce(const void *sendbuf, void *recvbuf, int64_t count, lp_datatype_t datatype,
                                    int bits, int64_t bucket_size, lp_quantized_scale_t scale, uint64_t seed,
                                    void *residual, lp_comm_t comm, lp_request_t *request)
{
    if (request == NULL) return lp_fail(LP_ERR_INVALID_ARGUMENT, "request pointer is NULL");
    *request = NULL;
    struct quantized_op *op;
    LP_TRY(start(sendbuf, recvbuf, count, datatype, bits, bucket_size, scale, seed, residual, comm, &op));
    lp_result_t rc = lp_request_create(&iquantized_ops, op, request);
    if (rc != LP_SUCCESS) {
        int done = 0;
        op_progress(op, 1, &done); /* the exchange is under way: finish it so the peers are not left waiting */
        op_destroy(op);
    }
    return rc;
}
