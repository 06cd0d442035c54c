/* The sparse allreduce's internals: vectors, the cost model and the
 * algorithms' state machine. The sparse layer uses core only. */
#ifndef LP_SPARSE_SPARSE_H
#define LP_SPARSE_SPARSE_H

#include "core/core.h"

/* A sparse vector: nnz sorted unique indices and their values. storage is
 * what to free (one block: indices, then values); NULL for a view. Functions
 * that write a vector through an out pointer free what it held first, so an
 * out vector must be zeroed or valid. */
struct lp_sparse_vec {
    int64_t nnz;
    int64_t *indices;
    void *values;
    void *storage;
};

/* vector.c */
lp_result_t lp_sparse_vec_alloc(struct lp_sparse_vec *vec, int64_t capacity, lp_datatype_t datatype);
void lp_sparse_vec_free(struct lp_sparse_vec *vec);
/* Frees *to, then moves *from into it (from becomes empty). */
void lp_sparse_vec_move(struct lp_sparse_vec *to, struct lp_sparse_vec *from);
/* Checks user input (types, count, pointers, every index in [0, size))
 * without copying it. */
lp_result_t lp_sparse_check_input(const void *indices, lp_datatype_t index_type, const void *values,
                                  lp_datatype_t datatype, int64_t count, int64_t size);
/* dense[indices[i]] += values[i] for checked user input, in input order. */
void lp_sparse_add_input(const void *indices, lp_datatype_t index_type, const void *values, lp_datatype_t datatype,
                         int64_t count, void *dense);
/* Copies user input into *out: widened to int64, range-checked, sorted, repeats summed. */
lp_result_t lp_sparse_normalize(const void *indices, lp_datatype_t index_type, const void *values,
                                lp_datatype_t datatype, int64_t count, int64_t size,
                                struct lp_sparse_vec *out);
/* *out = a + b; out may be a or b. */
lp_result_t lp_sparse_merge_sum(const struct lp_sparse_vec *a, const struct lp_sparse_vec *b,
                                lp_datatype_t datatype, struct lp_sparse_vec *out);
/* *out = ((parts[0] + parts[1]) + parts[2]) + ...: one fixed order. */
lp_result_t lp_sparse_sum_in_order(const struct lp_sparse_vec *parts, int nparts, lp_datatype_t datatype,
                                   struct lp_sparse_vec *out);
/* First position whose index is >= index. */
int64_t lp_sparse_lower_bound(const int64_t *indices, int64_t nnz, int64_t index);
/* dense[0, length) = 0, then dense[indices[i] - offset] = values[i]. */
void lp_sparse_densify(const int64_t *indices, const void *values, int64_t nnz, lp_datatype_t datatype,
                       int64_t offset, int64_t length, void *dense);
int64_t lp_sparse_count_nonzero(const void *dense, int64_t length, lp_datatype_t datatype);
/* The nonzero elements of dense[0, length), indexed from offset; nonzero is
 * their number, from lp_sparse_count_nonzero (the caller usually needs it
 * first, to decide whether to sparsify at all). */
lp_result_t lp_sparse_sparsify(const void *dense, int64_t length, lp_datatype_t datatype, int64_t offset,
                               int64_t nonzero, struct lp_sparse_vec *out);
/* Bytes per index on the wire: 4 when every index fits in int32, else 8. */
int lp_sparse_wire_index_width(int64_t size);
void lp_sparse_pack_indices(const int64_t *indices, int64_t nnz, int32_t *packed);
void lp_sparse_unpack_indices_in_place(int64_t *indices, int64_t nnz);

struct lp_sparse_result_s {
    lp_datatype_t datatype;
    int64_t size;
    lp_sparse_algorithm_t algorithm;
    int is_dense;
    struct lp_sparse_vec sparse; /* when !is_dense */
    void *dense;                 /* when is_dense: size elements */
};

/* cost.c */
struct lp_sparse_problem {
    int64_t size;
    int64_t nnz; /* per rank: the densest rank's count */
    int nprocs;
    int index_bytes; /* on the wire */
    int value_bytes;
    double density_threshold;
};
double lp_sparse_default_density_threshold(int64_t size, lp_datatype_t datatype);
double lp_sparse_estimate_seconds(lp_sparse_algorithm_t algorithm, const struct lp_sparse_problem *problem,
                                  const struct lp_cost_model *model);
lp_sparse_algorithm_t lp_sparse_choose(const struct lp_sparse_problem *problem,
                                       const struct lp_cost_model *model);
/* lp_sparse_select_algorithm under the given model. */
lp_sparse_algorithm_t lp_sparse_select_with(const struct lp_cost_model *model, int64_t size, int64_t nnz,
                                            int nprocs, lp_datatype_t datatype, double density_threshold);

/* algorithms.c: one sparse allreduce in flight, as a state machine
 * that posts nonblocking point-to-point exchanges and reduces between them. */
struct lp_sparse_op;
lp_result_t lp_sparse_op_create(lp_comm_t comm, lp_sparse_algorithm_t algorithm, lp_datatype_t datatype,
                                int64_t size, double density_threshold, struct lp_sparse_vec *local,
                                struct lp_sparse_op **out);
/* Allocates the dense buffer that dense and dsar need, before they start. */
lp_result_t lp_sparse_op_reserve_dense(struct lp_sparse_op *op);
/* Takes this rank's checked input in the form the algorithm reads: summed
 * into the dense buffer (dense; reserve it first), else normalized. */
lp_result_t lp_sparse_op_load_input(struct lp_sparse_op *op, lp_sparse_algorithm_t algorithm, const void *indices,
                                    lp_datatype_t index_type, const void *values, int64_t count);
/* Fixes the algorithm and the tag block; call on every rank in the same order. */
void lp_sparse_op_begin(struct lp_sparse_op *op, lp_sparse_algorithm_t algorithm, int tag_base);
/* Advances; blocking waits for completion. Sets *done when the result is in. */
lp_result_t lp_sparse_op_progress(struct lp_sparse_op *op, int blocking, int *done);
/* Moves the finished sum into result. */
void lp_sparse_op_take_result(struct lp_sparse_op *op, struct lp_sparse_result_s *result);
void lp_sparse_op_destroy(struct lp_sparse_op *op);

#endif /* LP_SPARSE_SPARSE_H */
