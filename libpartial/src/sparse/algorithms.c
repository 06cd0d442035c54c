/* The sparse allreduce algorithms, as one state machine. Each stage posts a
 * nonblocking exchange with some peers and the next stage reduces what
 * arrived, so lp_request_test can advance an operation step by step.
 *
 * An exchange sends each peer a two-word header (entry count, payload kind)
 * and then the payload (indices, then values) in chunks of at most
 * lp_max_mpi_count() bytes. Receivers size their buffers from the header,
 * so nothing is allocated for a dense worst case. The payload is sent along
 * with the header, which saves a round trip; only the headers are awaited
 * before the payload receives are posted.
 *
 * Bit-identical results: every sum is either computed by exactly one rank
 * in a fixed order and then copied (allgather, split_allgather, dsar, the
 * fold of recursive doubling), or computed by two partners from the same
 * two operands, where IEEE addition being commutative gives both the same
 * bits (the rounds of recursive doubling). */
#include "sparse/sparse.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TAG_HEADER = 0, TAG_INDICES = 1, TAG_VALUES = 2 };
enum { PAYLOAD_SPARSE = 0, PAYLOAD_DENSE = 1 };
enum exchange_phase { EXCHANGE_IDLE, EXCHANGE_HEADERS, EXCHANGE_PAYLOAD };

struct outgoing {
    int peer;
    int64_t header[2]; /* entries, payload kind */
    const int64_t *indices;
    const void *values;
    int32_t *packed_indices;  /* the int32 wire form, owned */
    const void *wire_indices; /* what goes out: indices, or a packed form */
};

struct incoming {
    int peer;
    int64_t header[2];
    void *dense_target;         /* where a dense payload lands; NULL: a buffer of its own */
    struct lp_sparse_vec vec;   /* a dense payload has indices == NULL */
};

struct lp_sparse_op {
    lp_comm_t comm;
    int rank, nprocs, tag_base;
    lp_sparse_algorithm_t algorithm;
    lp_datatype_t datatype;
    int64_t size, value_bytes;
    int index_width;
    double density_threshold;

    int stage, finished;
    int blocking; /* the caller waits: stages may complete synchronously */
    int partner_distance; /* recursive doubling */
    int my_range_dense;   /* dsar */
    int gather_ranges;    /* split stage 2: sparse ranges may land straight in the result */
    int ranges_gathered;  /* they did: gathered is the whole result */
    int result_dense;
    struct lp_sparse_vec local, acc;
    struct lp_sparse_vec gathered; /* split: the result, filled while acc is still being sent */
    struct lp_sparse_vec *parts; /* one slot per rank */
    void *dense;                 /* size elements, for dense and dsar */

    enum exchange_phase phase;
    struct outgoing *out;
    struct incoming *in;
    int nout, nin;
    MPI_Request *requests;
    int64_t nrequests, request_capacity, header_requests;
};

/* ---- the exchange ---------------------------------------------------------- */

static void exchange_reset(struct lp_sparse_op *op)
{
    for (int i = 0; i < op->nout; i++) lp_scratch_free(op->out[i].packed_indices);
    for (int i = 0; i < op->nin; i++) lp_sparse_vec_free(&op->in[i].vec);
    memset(op->out, 0, sizeof *op->out * (size_t)op->nprocs);
    memset(op->in, 0, sizeof *op->in * (size_t)op->nprocs);
    op->nout = op->nin = 0;
    op->nrequests = op->header_requests = 0;
    op->phase = EXCHANGE_IDLE;
}

static void send_sparse(struct lp_sparse_op *op, int peer, const struct lp_sparse_vec *vec)
{
    struct outgoing *o = &op->out[op->nout++];
    o->peer = peer;
    o->header[0] = vec->nnz;
    o->header[1] = PAYLOAD_SPARSE;
    o->indices = vec->indices;
    o->values = vec->values;
}

static void send_dense(struct lp_sparse_op *op, int peer, const void *values, int64_t count)
{
    struct outgoing *o = &op->out[op->nout++];
    o->peer = peer;
    o->header[0] = count;
    o->header[1] = PAYLOAD_DENSE;
    o->values = values;
}

static void expect_from(struct lp_sparse_op *op, int peer, void *dense_target)
{
    struct incoming *in = &op->in[op->nin++];
    in->peer = peer;
    in->dense_target = dense_target;
}

static lp_result_t reserve_requests(struct lp_sparse_op *op, int64_t more)
{
    if (op->nrequests + more <= op->request_capacity) return LP_SUCCESS;
    int64_t capacity = 2 * (op->nrequests + more);
    /* Handles of requests in flight may be moved: they are plain values. */
    MPI_Request *grown = realloc(op->requests, (size_t)capacity * sizeof *grown);
    if (grown == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %lld MPI requests", (long long)capacity);
    op->requests = grown;
    op->request_capacity = capacity;
    return LP_SUCCESS;
}

/* Posts a send or a receive of bytes in chunks that fit MPI's int counts;
 * both sides cut the same byte count into the same chunks. */
static lp_result_t post_bytes(struct lp_sparse_op *op, const void *buffer, int64_t bytes, int peer, int tag,
                              int is_send)
{
    LP_TRY(reserve_requests(op, lp_mpi_chunk_count(bytes)));
    for (struct lp_chunks c = lp_mpi_chunks(bytes); lp_chunks_next(&c);) {
        MPI_Request *request = &op->requests[op->nrequests++];
        if (is_send)
            LP_TRY_MPI(MPI_Isend((const char *)buffer + c.offset, c.count, MPI_BYTE, peer, op->tag_base + tag,
                                 op->comm->comm, request));
        else
            LP_TRY_MPI(MPI_Irecv((char *)buffer + c.offset, c.count, MPI_BYTE, peer, op->tag_base + tag,
                                 op->comm->comm, request));
    }
    return LP_SUCCESS;
}

static lp_result_t exchange_start(struct lp_sparse_op *op)
{
    op->phase = EXCHANGE_HEADERS;
    LP_TRY(reserve_requests(op, op->nin + op->nout));
    for (int i = 0; i < op->nin; i++)
        LP_TRY_MPI(MPI_Irecv(op->in[i].header, 2, MPI_INT64_T, op->in[i].peer, op->tag_base + TAG_HEADER,
                             op->comm->comm, &op->requests[op->nrequests++]));
    for (int i = 0; i < op->nout; i++)
        LP_TRY_MPI(MPI_Isend(op->out[i].header, 2, MPI_INT64_T, op->out[i].peer, op->tag_base + TAG_HEADER,
                             op->comm->comm, &op->requests[op->nrequests++]));
    op->header_requests = op->nrequests;
    for (int i = 0; i < op->nout; i++) {
        struct outgoing *o = &op->out[i];
        const int64_t entries = o->header[0];
        if (o->header[1] == PAYLOAD_SPARSE && entries > 0) {
            o->wire_indices = o->indices;
            if (op->index_width == 4) {
                /* The same vector to several peers (allgather) is packed once. */
                const struct outgoing *previous = i > 0 ? &op->out[i - 1] : NULL;
                if (previous != NULL && previous->indices == o->indices && previous->header[0] == entries) {
                    o->wire_indices = previous->wire_indices;
                } else {
                    o->packed_indices = lp_scratch_alloc((size_t)entries * sizeof(int32_t));
                    if (o->packed_indices == NULL)
                        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %lld packed indices", (long long)entries);
                    lp_sparse_pack_indices(o->indices, entries, o->packed_indices);
                    o->wire_indices = o->packed_indices;
                }
            }
            LP_TRY(post_bytes(op, o->wire_indices, entries * op->index_width, o->peer, TAG_INDICES, 1));
        }
        LP_TRY(post_bytes(op, o->values, entries * op->value_bytes, o->peer, TAG_VALUES, 1));
    }
    return LP_SUCCESS;
}

static int64_t range_begin(const struct lp_sparse_op *op, int r);

/* The allgather of reduced ranges, when every range is sparse: one result
 * vector sized from the headers, each peer's range received at its place
 * and mine copied into its own. Disjoint ascending ranges in rank order make
 * it sorted, with no concatenation afterwards. */
static lp_result_t gather_ranges_in_place(struct lp_sparse_op *op)
{
    int64_t *begin = calloc((size_t)op->nprocs + 1, sizeof *begin);
    if (begin == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %d range offsets", op->nprocs);
    begin[op->rank] = op->acc.nnz;
    for (int i = 0; i < op->nin; i++) begin[op->in[i].peer] = op->in[i].header[0];
    int64_t total = 0;
    for (int r = 0; r <= op->nprocs; r++) {
        const int64_t count = r < op->nprocs ? begin[r] : 0;
        begin[r] = total;
        total += count;
    }
    struct lp_sparse_vec joined;
    lp_result_t rc = lp_sparse_vec_alloc(&joined, total, op->datatype);
    if (rc == LP_SUCCESS) {
        joined.nnz = total;
        for (int i = 0; i < op->nin; i++) {
            struct incoming *in = &op->in[i];
            const int64_t at = begin[in->peer];
            struct lp_sparse_vec view = {in->header[0], joined.indices + at,
                                         (char *)joined.values + at * op->value_bytes, NULL};
            in->vec = view;
        }
        const int64_t mine = begin[op->rank];
        memcpy(joined.indices + mine, op->acc.indices, (size_t)op->acc.nnz * sizeof(int64_t));
        memcpy((char *)joined.values + mine * op->value_bytes, op->acc.values, (size_t)(op->acc.nnz * op->value_bytes));
        lp_sparse_vec_move(&op->gathered, &joined);
        op->ranges_gathered = 1;
    }
    free(begin);
    return rc;
}

static int all_payloads_sparse(const struct lp_sparse_op *op)
{
    for (int i = 0; i < op->nin; i++)
        if (op->in[i].header[1] != PAYLOAD_SPARSE) return 0;
    return 1;
}

static lp_result_t post_payload_receives(struct lp_sparse_op *op)
{
    for (int i = 0; i < op->nin; i++) {
        const int64_t entries = op->in[i].header[0], kind = op->in[i].header[1];
        if (entries < 0 || (kind != PAYLOAD_SPARSE && kind != PAYLOAD_DENSE))
            return lp_fail(LP_ERR_INTERNAL, "corrupt header from rank %d", op->in[i].peer);
    }
    if (op->gather_ranges && !op->my_range_dense && all_payloads_sparse(op)) LP_TRY(gather_ranges_in_place(op));
    for (int i = 0; i < op->nin; i++) {
        struct incoming *in = &op->in[i];
        const int64_t entries = in->header[0], kind = in->header[1];
        if (kind == PAYLOAD_SPARSE) {
            if (!op->ranges_gathered) {
                LP_TRY(lp_sparse_vec_alloc(&in->vec, entries, op->datatype));
                in->vec.nnz = entries;
            }
            LP_TRY(post_bytes(op, in->vec.indices, entries * op->index_width, in->peer, TAG_INDICES, 0));
        } else if (in->dense_target != NULL) {
            in->vec.values = in->dense_target;
            in->vec.nnz = entries;
        } else {
            in->vec.storage = lp_scratch_alloc((size_t)(entries * op->value_bytes));
            if (in->vec.storage == NULL)
                return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %lld received values", (long long)entries);
            in->vec.values = in->vec.storage;
            in->vec.nnz = entries;
        }
        LP_TRY(post_bytes(op, in->vec.values, entries * op->value_bytes, in->peer, TAG_VALUES, 0));
    }
    return LP_SUCCESS;
}

static lp_result_t complete_requests(struct lp_sparse_op *op, int64_t n, int blocking, int *complete)
{
    if (blocking) {
        *complete = 1;
        return lp_waitall(op->requests, n);
    }
    return lp_testall(op->requests, n, complete);
}

static lp_result_t exchange_progress(struct lp_sparse_op *op, int blocking, int *complete)
{
    if (op->phase == EXCHANGE_HEADERS) {
        LP_TRY(complete_requests(op, op->header_requests, blocking, complete));
        if (!*complete) return LP_SUCCESS;
        LP_TRY(post_payload_receives(op));
        op->phase = EXCHANGE_PAYLOAD;
    }
    LP_TRY(complete_requests(op, op->nrequests, blocking, complete));
    if (!*complete) return LP_SUCCESS;
    if (op->index_width == 4)
        for (int i = 0; i < op->nin; i++)
            if (op->in[i].vec.indices != NULL) lp_sparse_unpack_indices_in_place(op->in[i].vec.indices, op->in[i].vec.nnz);
    op->phase = EXCHANGE_IDLE;
    op->nrequests = op->header_requests = 0;
    return LP_SUCCESS;
}

/* ---- helpers shared by the algorithms ------------------------------------- */

/* Rank r owns indices [range_begin(r), range_begin(r + 1)): near-equal
 * ranges for any P, without forming r * size (which could overflow). */
static int64_t range_begin(const struct lp_sparse_op *op, int r)
{
    const int64_t base = op->size / op->nprocs, extra = op->size % op->nprocs;
    return base * r + (r < extra ? r : extra);
}

static struct lp_sparse_vec slice_of(const struct lp_sparse_vec *vec, int64_t begin_index, int64_t end_index,
                                     int64_t value_bytes)
{
    int64_t lo = lp_sparse_lower_bound(vec->indices, vec->nnz, begin_index);
    int64_t hi = lp_sparse_lower_bound(vec->indices, vec->nnz, end_index);
    struct lp_sparse_vec view = {hi - lo, vec->indices + lo, (char *)vec->values + lo * value_bytes, NULL};
    return view;
}

static struct lp_sparse_vec range_slice(const struct lp_sparse_op *op, const struct lp_sparse_vec *vec, int r)
{
    return slice_of(vec, range_begin(op, r), range_begin(op, r + 1), op->value_bytes);
}

/* Moves what each peer sent into parts[peer]; mine goes into parts[rank]. */
static void collect_parts(struct lp_sparse_op *op, struct lp_sparse_vec mine)
{
    for (int i = 0; i < op->nin; i++) lp_sparse_vec_move(&op->parts[op->in[i].peer], &op->in[i].vec);
    op->parts[op->rank] = mine;
}

static void free_parts(struct lp_sparse_op *op)
{
    for (int r = 0; r < op->nprocs; r++) lp_sparse_vec_free(&op->parts[r]);
}

/* The parts reduced in rank order: the same additions on whichever rank. */
static lp_result_t reduce_parts(struct lp_sparse_op *op)
{
    lp_result_t rc = lp_sparse_sum_in_order(op->parts, op->nprocs, op->datatype, &op->acc);
    free_parts(op);
    return rc;
}

static void *dense_at(const struct lp_sparse_op *op, int64_t index)
{
    return (char *)op->dense + index * op->value_bytes;
}

/* ---- allgather: everyone gets every pair and reduces locally ---------------- */

static lp_result_t step_allgather(struct lp_sparse_op *op)
{
    if (op->stage == 0) {
        exchange_reset(op);
        for (int peer = 0; peer < op->nprocs; peer++) {
            if (peer == op->rank) continue;
            send_sparse(op, peer, &op->local);
            expect_from(op, peer, NULL);
        }
        op->stage = 1;
        return exchange_start(op);
    }
    struct lp_sparse_vec mine = {op->local.nnz, op->local.indices, op->local.values, NULL};
    collect_parts(op, mine);
    LP_TRY(reduce_parts(op));
    op->finished = 1;
    return LP_SUCCESS;
}

/* ---- split_allgather and dsar ------------------------------------------------ */

static lp_result_t step_split(struct lp_sparse_op *op, int may_densify)
{
    switch (op->stage) {
    case 0: /* reduce-scatter: each rank's slice of range r goes to rank r */
        exchange_reset(op);
        for (int peer = 0; peer < op->nprocs; peer++) {
            if (peer == op->rank) continue;
            struct lp_sparse_vec slice = range_slice(op, &op->local, peer);
            send_sparse(op, peer, &slice);
            expect_from(op, peer, NULL);
        }
        op->stage = 1;
        return exchange_start(op);
    case 1: { /* reduce my range in rank order, then send it to everyone */
        collect_parts(op, range_slice(op, &op->local, op->rank));
        exchange_reset(op);
        LP_TRY(reduce_parts(op));
        const int64_t begin = range_begin(op, op->rank), length = range_begin(op, op->rank + 1) - begin;
        op->my_range_dense = may_densify && (double)op->acc.nnz > op->density_threshold * (double)length;
        if (op->my_range_dense)
            lp_sparse_densify(op->acc.indices, op->acc.values, op->acc.nnz, op->datatype, begin, length,
                              dense_at(op, begin));
        for (int peer = 0; peer < op->nprocs; peer++) {
            if (peer == op->rank) continue;
            if (op->my_range_dense) send_dense(op, peer, dense_at(op, begin), length);
            else send_sparse(op, peer, &op->acc);
            expect_from(op, peer, may_densify ? dense_at(op, range_begin(op, peer)) : NULL);
        }
        op->gather_ranges = 1;
        op->stage = 2;
        return exchange_start(op);
    }
    default: { /* assemble the ranges, dense if any of them is */
        int any_dense = op->my_range_dense;
        for (int i = 0; i < op->nin; i++) {
            struct incoming *in = &op->in[i];
            const int64_t length = range_begin(op, in->peer + 1) - range_begin(op, in->peer);
            if (in->header[1] == PAYLOAD_DENSE) {
                if (in->header[0] != length)
                    return lp_fail(LP_ERR_INTERNAL, "rank %d sent %lld dense values for a range of %lld",
                                   in->peer, (long long)in->header[0], (long long)length);
                any_dense = 1;
            }
        }
        if (any_dense) {
            if (!op->my_range_dense) {
                const int64_t begin = range_begin(op, op->rank);
                lp_sparse_densify(op->acc.indices, op->acc.values, op->acc.nnz, op->datatype, begin,
                                  range_begin(op, op->rank + 1) - begin, dense_at(op, begin));
            }
            for (int i = 0; i < op->nin; i++) {
                struct incoming *in = &op->in[i];
                if (in->header[1] == PAYLOAD_DENSE) continue;
                const int64_t begin = range_begin(op, in->peer);
                lp_sparse_densify(in->vec.indices, in->vec.values, in->vec.nnz, op->datatype, begin,
                                  range_begin(op, in->peer + 1) - begin, dense_at(op, begin));
            }
            op->result_dense = 1;
        } else { /* every range was sparse: received in place (gather_ranges_in_place) */
            if (!op->ranges_gathered) return lp_fail(LP_ERR_INTERNAL, "sparse ranges were not gathered");
            lp_sparse_vec_move(&op->acc, &op->gathered);
        }
        exchange_reset(op);
        op->finished = 1;
        return LP_SUCCESS;
    }
    }
}

/* ---- recursive doubling ------------------------------------------------------ */

enum {
    RD_START,
    RD_FOLD_MERGE, /* a low rank adds the folded-in rank's vector */
    RD_ROUND,      /* exchange with rank ^ distance */
    RD_ROUND_MERGE,
    RD_UNFOLD,     /* hand the sum back to the folded-in rank */
    RD_FOLDED_WAIT,
    RD_FOLDED_TAKE,
    RD_DONE_AFTER_SEND
};

static int power_of_two_below(int n)
{
    int p = 1;
    while (p * 2 <= n) p *= 2;
    return p;
}

static lp_result_t merge_received(struct lp_sparse_op *op, struct lp_sparse_vec *mine)
{
    lp_result_t rc = lp_sparse_merge_sum(mine, &op->in[0].vec, op->datatype, &op->acc);
    exchange_reset(op);
    return rc;
}

static lp_result_t step_recursive_doubling(struct lp_sparse_op *op)
{
    const int pow2 = power_of_two_below(op->nprocs), folded = op->nprocs - pow2;
    switch (op->stage) {
    case RD_START:
        exchange_reset(op);
        op->partner_distance = 1;
        if (op->rank >= pow2) { /* folded in: give my vector, wait for the sum */
            send_sparse(op, op->rank - pow2, &op->local);
            op->stage = RD_FOLDED_WAIT;
            return exchange_start(op);
        }
        if (op->rank < folded) {
            expect_from(op, op->rank + pow2, NULL);
            op->stage = RD_FOLD_MERGE;
            return exchange_start(op);
        }
        lp_sparse_vec_move(&op->acc, &op->local);
        op->stage = RD_ROUND;
        return LP_SUCCESS;
    case RD_FOLD_MERGE:
        LP_TRY(merge_received(op, &op->local));
        op->stage = RD_ROUND;
        return LP_SUCCESS;
    case RD_ROUND:
        exchange_reset(op);
        if (op->partner_distance >= pow2) {
            op->stage = RD_UNFOLD;
            return LP_SUCCESS;
        }
        send_sparse(op, op->rank ^ op->partner_distance, &op->acc);
        expect_from(op, op->rank ^ op->partner_distance, NULL);
        op->stage = RD_ROUND_MERGE;
        return exchange_start(op);
    case RD_ROUND_MERGE:
        /* Both partners add the same two operands: a + b == b + a. */
        LP_TRY(merge_received(op, &op->acc));
        op->partner_distance *= 2;
        op->stage = RD_ROUND;
        return LP_SUCCESS;
    case RD_UNFOLD:
        if (op->rank < folded) {
            send_sparse(op, op->rank + pow2, &op->acc);
            op->stage = RD_DONE_AFTER_SEND;
            return exchange_start(op);
        }
        op->finished = 1;
        return LP_SUCCESS;
    case RD_FOLDED_WAIT:
        exchange_reset(op);
        expect_from(op, op->rank - pow2, NULL);
        op->stage = RD_FOLDED_TAKE;
        return exchange_start(op);
    case RD_FOLDED_TAKE:
        lp_sparse_vec_move(&op->acc, &op->in[0].vec);
        exchange_reset(op);
        op->finished = 1;
        return LP_SUCCESS;
    default: /* RD_DONE_AFTER_SEND */
        exchange_reset(op);
        op->finished = 1;
        return LP_SUCCESS;
    }
}

/* ---- dense: densify, then MPI_Iallreduce -------------------------------------- */

static lp_result_t step_dense(struct lp_sparse_op *op)
{
    if (op->stage == 0) { /* op->dense holds this rank's input (lp_sparse_op_load_input) */
        exchange_reset(op);
        LP_TRY(reserve_requests(op, lp_mpi_chunk_count(op->size)));
        const MPI_Datatype type = lp_mpi_datatype(op->datatype);
        for (struct lp_chunks c = lp_mpi_chunks(op->size); lp_chunks_next(&c);) {
            /* A blocking call takes MPI_Allreduce: MPIs tune it far better
             * than MPI_Iallreduce for large vectors. */
            if (op->blocking)
                LP_TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, dense_at(op, c.offset), c.count, type, MPI_SUM,
                                         op->comm->comm));
            else
                LP_TRY_MPI(MPI_Iallreduce(MPI_IN_PLACE, dense_at(op, c.offset), c.count, type, MPI_SUM,
                                          op->comm->comm, &op->requests[op->nrequests++]));
        }
        if (!op->blocking) op->phase = EXCHANGE_PAYLOAD;
        op->stage = 1;
        return LP_SUCCESS;
    }
    /* The sum stays dense only when it has filled in past the threshold. */
    const int64_t nonzero = lp_sparse_count_nonzero(op->dense, op->size, op->datatype);
    if ((double)nonzero > op->density_threshold * (double)op->size) op->result_dense = 1;
    else LP_TRY(lp_sparse_sparsify(op->dense, op->size, op->datatype, 0, nonzero, &op->acc));
    op->finished = 1;
    return LP_SUCCESS;
}

/* ---- the operation ------------------------------------------------------------ */

lp_result_t lp_sparse_op_create(lp_comm_t comm, lp_sparse_algorithm_t algorithm, lp_datatype_t datatype,
                                int64_t size, double density_threshold, struct lp_sparse_vec *local,
                                struct lp_sparse_op **out)
{
    *out = NULL;
    struct lp_sparse_op *op = calloc(1, sizeof *op);
    if (op == NULL) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a sparse operation");
    op->comm = comm;
    op->rank = comm->rank;
    op->nprocs = comm->size;
    op->algorithm = algorithm;
    op->datatype = datatype;
    op->size = size;
    op->value_bytes = lp_datatype_size(datatype);
    op->index_width = lp_sparse_wire_index_width(size);
    op->density_threshold = density_threshold > 0 ? density_threshold
                                                  : lp_sparse_default_density_threshold(size, datatype);
    op->parts = calloc((size_t)op->nprocs, sizeof *op->parts);
    op->out = calloc((size_t)op->nprocs, sizeof *op->out);
    op->in = calloc((size_t)op->nprocs, sizeof *op->in);
    if (op->parts == NULL || op->out == NULL || op->in == NULL) {
        lp_sparse_op_destroy(op);
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a sparse operation for %d ranks", comm->size);
    }
    lp_sparse_vec_move(&op->local, local);
    *out = op;
    return LP_SUCCESS;
}

lp_result_t lp_sparse_op_reserve_dense(struct lp_sparse_op *op)
{
    if (op->dense != NULL) return LP_SUCCESS;
    /* Beyond physical memory a dense vector is useless even where the
     * allocator would hand out the address space. */
    const double memory = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    if (op->size > INT64_MAX / op->value_bytes || (double)op->size * (double)op->value_bytes > memory)
        return lp_fail(LP_ERR_NO_MEMORY, "the dense form of size %lld (%.3g bytes) exceeds this node's memory "
                       "(%.3g bytes); use a sparse algorithm", (long long)op->size,
                       (double)op->size * (double)op->value_bytes, memory);
    op->dense = lp_scratch_alloc((size_t)(op->size * op->value_bytes));
    if (op->dense == NULL)
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate the dense form of size %lld (%lld bytes) for %s",
                       (long long)op->size, (long long)(op->size * op->value_bytes),
                       lp_sparse_algorithm_name(op->algorithm));
    return LP_SUCCESS;
}

lp_result_t lp_sparse_op_load_input(struct lp_sparse_op *op, lp_sparse_algorithm_t algorithm, const void *indices,
                                    lp_datatype_t index_type, const void *values, int64_t count)
{
    if (algorithm != LP_SPARSE_DENSE) {
        lp_sparse_vec_free(&op->local);
        return lp_sparse_normalize(indices, index_type, values, op->datatype, count, op->size, &op->local);
    }
    /* No sort: the dense form takes the input as it comes. */
    lp_sparse_vec_free(&op->local);
    memset(op->dense, 0, (size_t)(op->size * op->value_bytes));
    lp_sparse_add_input(indices, index_type, values, op->datatype, count, op->dense);
    return LP_SUCCESS;
}

void lp_sparse_op_begin(struct lp_sparse_op *op, lp_sparse_algorithm_t algorithm, int tag_base)
{
    op->algorithm = algorithm;
    op->tag_base = tag_base;
    op->stage = 0;
}

static lp_result_t run_stage(struct lp_sparse_op *op)
{
    switch (op->algorithm) {
    case LP_SPARSE_RECURSIVE_DOUBLING: return step_recursive_doubling(op);
    case LP_SPARSE_SPLIT_ALLGATHER: return step_split(op, 0);
    case LP_SPARSE_DSAR: return step_split(op, 1);
    case LP_SPARSE_ALLGATHER: return step_allgather(op);
    case LP_SPARSE_DENSE: return step_dense(op);
    default: return lp_fail(LP_ERR_INTERNAL, "no algorithm chosen");
    }
}

lp_result_t lp_sparse_op_progress(struct lp_sparse_op *op, int blocking, int *done)
{
    *done = 0;
    op->blocking = blocking;
    for (;;) {
        if (op->phase != EXCHANGE_IDLE) {
            int complete = 0;
            LP_TRY(exchange_progress(op, blocking, &complete));
            if (!complete) return LP_SUCCESS;
        }
        if (op->finished) {
            *done = 1;
            return LP_SUCCESS;
        }
        LP_TRY(run_stage(op));
    }
}

void lp_sparse_op_take_result(struct lp_sparse_op *op, struct lp_sparse_result_s *result)
{
    result->datatype = op->datatype;
    result->size = op->size;
    result->algorithm = op->algorithm;
    result->is_dense = op->result_dense;
    if (op->result_dense) {
        result->dense = op->dense;
        op->dense = NULL;
    } else {
        lp_sparse_vec_move(&result->sparse, &op->acc);
    }
}

void lp_sparse_op_destroy(struct lp_sparse_op *op)
{
    if (op == NULL) return;
    /* After a failure part way, what was posted still has to complete
     * before its buffers go. */
    if (op->nrequests > 0) lp_waitall(op->requests, op->nrequests);
    if (op->out != NULL && op->in != NULL) exchange_reset(op);
    if (op->parts != NULL) free_parts(op);
    lp_sparse_vec_free(&op->local);
    lp_sparse_vec_free(&op->acc);
    lp_sparse_vec_free(&op->gathered);
    free(op->parts);
    free(op->out);
    free(op->in);
    free(op->requests);
    lp_scratch_free(op->dense);
    free(op);
}
