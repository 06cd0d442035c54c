/* Unit tests of the sparse vector kernels (normalize, merge-sum, densify,
 * sparsify, the int32 wire form) against brute-force dense references.
 * Pure local code: every rank runs the same checks. */
#include "check.h"
#include "sparse/sparse.h"

#include <string.h>

enum { DIM = 997 };

/* Adds (index, value) pairs into a dense int64 reference. */
static void dense_reference(const int64_t *indices, const int64_t *values, int64_t n, int64_t *dense)
{
    memset(dense, 0, sizeof(int64_t) * DIM);
    for (int64_t i = 0; i < n; i++) dense[indices[i]] += values[i];
}

static void check_sorted_unique(const struct lp_sparse_vec *vec)
{
    for (int64_t i = 1; i < vec->nnz; i++) CHECK(vec->indices[i - 1] < vec->indices[i]);
}

static void check_matches(const struct lp_sparse_vec *vec, const int64_t *expected)
{
    int64_t dense[DIM];
    lp_sparse_densify(vec->indices, vec->values, vec->nnz, LP_INT64, 0, DIM, dense);
    for (int i = 0; i < DIM; i++) CHECK(dense[i] == expected[i]);
}

static void random_pairs(uint64_t *state, int64_t n, int64_t *indices, int64_t *values)
{
    for (int64_t i = 0; i < n; i++) {
        indices[i] = (int64_t)(test_random(state) % DIM);
        values[i] = (int64_t)(test_random(state) % 201) - 100;
    }
}

static void test_normalize(void)
{
    uint64_t state = 1;
    for (int64_t n = 0; n < 3000; n = n * 2 + 1) {
        int64_t *indices = malloc(sizeof(int64_t) * (size_t)(n + 1));
        int64_t *values = malloc(sizeof(int64_t) * (size_t)(n + 1));
        int32_t *narrow = malloc(sizeof(int32_t) * (size_t)(n + 1));
        random_pairs(&state, n, indices, values);
        for (int64_t i = 0; i < n; i++) narrow[i] = (int32_t)indices[i];
        int64_t expected[DIM];
        dense_reference(indices, values, n, expected);

        struct lp_sparse_vec vec;
        CHECK_OK(lp_sparse_normalize(indices, LP_INT64, values, LP_INT64, n, DIM, &vec));
        check_sorted_unique(&vec);
        check_matches(&vec, expected);
        lp_sparse_vec_free(&vec);
        CHECK_OK(lp_sparse_normalize(narrow, LP_INT32, values, LP_INT64, n, DIM, &vec));
        check_sorted_unique(&vec);
        check_matches(&vec, expected);
        lp_sparse_vec_free(&vec);

        if (n > 0) { /* one bad index anywhere is rejected, nothing leaks */
            indices[n / 2] = DIM;
            CHECK(lp_sparse_normalize(indices, LP_INT64, values, LP_INT64, n, DIM, &vec) == LP_ERR_INDEX_OUT_OF_RANGE);
            narrow[n / 2] = -1;
            CHECK(lp_sparse_normalize(narrow, LP_INT32, values, LP_INT64, n, DIM, &vec) == LP_ERR_INDEX_OUT_OF_RANGE);
        }
        free(indices);
        free(values);
        free(narrow);
    }
    struct lp_sparse_vec vec;
    CHECK(lp_sparse_normalize(NULL, LP_FLOAT32, NULL, LP_INT64, 0, DIM, &vec) == LP_ERR_INVALID_TYPE);
    CHECK(lp_sparse_normalize(NULL, LP_INT64, NULL, LP_INT64, -1, DIM, &vec) == LP_ERR_INVALID_ARGUMENT);
}

/* Large keys take every radix pass; float values move as raw bits. */
static void test_normalize_wide_keys(void)
{
    const int64_t size = (int64_t)1 << 40, n = 5000;
    int64_t *indices = malloc(sizeof(int64_t) * n);
    float *values = malloc(sizeof(float) * n);
    uint64_t state = 7;
    for (int64_t i = 0; i < n; i++) {
        indices[i] = (int64_t)(test_random(&state) % (uint64_t)size);
        values[i] = (float)i;
    }
    struct lp_sparse_vec vec;
    CHECK_OK(lp_sparse_normalize(indices, LP_INT64, values, LP_FLOAT32, n, size, &vec));
    check_sorted_unique(&vec);
    CHECK(vec.nnz == n); /* 5000 random keys out of 2^40 do not collide */
    for (int64_t i = 0; i < vec.nnz; i++) {
        int64_t original = (int64_t)((float *)vec.values)[i];
        CHECK(indices[original] == vec.indices[i]);
    }
    lp_sparse_vec_free(&vec);
    free(indices);
    free(values);
}

static void test_merge_and_order(void)
{
    uint64_t state = 3;
    for (int round = 0; round < 20; round++) {
        int64_t na = (int64_t)(test_random(&state) % 500), nb = (int64_t)(test_random(&state) % 500);
        int64_t ia[500], va[500], ib[500], vb[500], expected[DIM], part[DIM];
        random_pairs(&state, na, ia, va);
        random_pairs(&state, nb, ib, vb);
        struct lp_sparse_vec parts[2], sum = {0}, sum_reversed = {0}, ordered = {0};
        CHECK_OK(lp_sparse_normalize(ia, LP_INT64, va, LP_INT64, na, DIM, &parts[0]));
        CHECK_OK(lp_sparse_normalize(ib, LP_INT64, vb, LP_INT64, nb, DIM, &parts[1]));
        dense_reference(ia, va, na, expected);
        dense_reference(ib, vb, nb, part);
        for (int i = 0; i < DIM; i++) expected[i] += part[i];
        CHECK_OK(lp_sparse_merge_sum(&parts[0], &parts[1], LP_INT64, &sum));
        CHECK_OK(lp_sparse_merge_sum(&parts[1], &parts[0], LP_INT64, &sum_reversed));
        check_sorted_unique(&sum);
        check_matches(&sum, expected);
        CHECK(sum.nnz == sum_reversed.nnz);
        CHECK(memcmp(sum.indices, sum_reversed.indices, sizeof(int64_t) * (size_t)sum.nnz) == 0);
        CHECK_OK(lp_sparse_sum_in_order(parts, 2, LP_INT64, &ordered));
        check_matches(&ordered, expected);
        /* In place: out may alias an input. */
        CHECK_OK(lp_sparse_merge_sum(&parts[0], &parts[1], LP_INT64, &parts[0]));
        check_matches(&parts[0], expected);
        lp_sparse_vec_free(&parts[0]);
        lp_sparse_vec_free(&parts[1]);
        lp_sparse_vec_free(&sum);
        lp_sparse_vec_free(&sum_reversed);
        lp_sparse_vec_free(&ordered);
    }
}

static void test_float_merge_is_commutative(void)
{
    int64_t ia[] = {1, 5, 9}, ib[] = {5, 9, 12};
    float va[] = {0.1f, 1e8f, -3.3f}, vb[] = {0.7f, 1.0f, 2.5f};
    struct lp_sparse_vec a = {3, ia, va, NULL}, b = {3, ib, vb, NULL}, ab = {0}, ba = {0};
    CHECK_OK(lp_sparse_merge_sum(&a, &b, LP_FLOAT32, &ab));
    CHECK_OK(lp_sparse_merge_sum(&b, &a, LP_FLOAT32, &ba));
    CHECK(ab.nnz == 4 && ba.nnz == 4);
    CHECK(memcmp(ab.values, ba.values, 4 * sizeof(float)) == 0);
    lp_sparse_vec_free(&ab);
    lp_sparse_vec_free(&ba);
}

static void test_densify_sparsify(void)
{
    double dense[DIM];
    int64_t indices[] = {0, 17, 500, DIM - 1};
    double values[] = {1.5, -2.0, 0.0, 4.25};
    lp_sparse_densify(indices, values, 4, LP_FLOAT64, 0, DIM, dense);
    CHECK(dense[0] == 1.5 && dense[17] == -2.0 && dense[DIM - 1] == 4.25 && dense[1] == 0.0);
    CHECK(lp_sparse_count_nonzero(dense, DIM, LP_FLOAT64) == 3);
    struct lp_sparse_vec vec = {0};
    CHECK_OK(lp_sparse_sparsify(dense, DIM, LP_FLOAT64, 0, 3, &vec));
    CHECK(vec.nnz == 3 && vec.indices[0] == 0 && vec.indices[1] == 17 && vec.indices[2] == DIM - 1);
    CHECK(((double *)vec.values)[2] == 4.25);
    lp_sparse_vec_free(&vec);
    /* A range with an offset: indices stay global. */
    CHECK_OK(lp_sparse_sparsify(dense + 10, 100, LP_FLOAT64, 10, lp_sparse_count_nonzero(dense + 10, 100, LP_FLOAT64), &vec));
    CHECK(vec.nnz == 1 && vec.indices[0] == 17);
    lp_sparse_vec_free(&vec);
    int32_t range[8];
    int64_t in_range[] = {100, 107};
    int32_t range_values[] = {3, -4};
    lp_sparse_densify(in_range, range_values, 2, LP_INT32, 100, 8, range);
    CHECK(range[0] == 3 && range[7] == -4 && range[3] == 0);
}

static void test_wire_indices_and_bounds(void)
{
    int64_t indices[64];
    int32_t packed[64];
    for (int i = 0; i < 64; i++) indices[i] = (int64_t)i * 33554431; /* up to 2^31 - 1 */
    lp_sparse_pack_indices(indices, 64, packed);
    int64_t received[64];
    memcpy(received, packed, sizeof packed); /* as MPI would deliver them */
    lp_sparse_unpack_indices_in_place(received, 64);
    for (int i = 0; i < 64; i++) CHECK(received[i] == indices[i]);
    CHECK(lp_sparse_wire_index_width(((int64_t)1 << 31)) == 4);
    CHECK(lp_sparse_wire_index_width(((int64_t)1 << 31) + 1) == 8);
    CHECK(lp_sparse_lower_bound(indices, 64, 0) == 0);
    CHECK(lp_sparse_lower_bound(indices, 64, 1) == 1);
    CHECK(lp_sparse_lower_bound(indices, 64, INT64_MAX) == 64);
}

static void test_names_and_cost_model(void)
{
    for (int a = 0; a < LP_SPARSE_NUM_ALGORITHMS; a++) {
        lp_sparse_algorithm_t back;
        CHECK_OK(lp_sparse_algorithm_from_name(lp_sparse_algorithm_name((lp_sparse_algorithm_t)a), &back));
        CHECK((int)back == a);
    }
    lp_sparse_algorithm_t unused;
    CHECK(lp_sparse_algorithm_from_name("bogus", &unused) == LP_ERR_INVALID_ARGUMENT);
    /* Very sparse at 2^40 never goes dense; a full vector always does. */
    lp_sparse_algorithm_t sparse_pick = lp_sparse_select_algorithm((int64_t)1 << 40, 10, 4, LP_FLOAT32, 0);
    CHECK(sparse_pick != LP_SPARSE_DENSE && sparse_pick != LP_SPARSE_DSAR);
    lp_sparse_algorithm_t full_pick = lp_sparse_select_algorithm(1 << 20, 1 << 20, 4, LP_FLOAT32, 0);
    CHECK(full_pick == LP_SPARSE_DENSE || full_pick == LP_SPARSE_DSAR);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    test_normalize();
    test_normalize_wide_keys();
    test_merge_and_order();
    test_float_merge_is_commutative();
    test_densify_sparsify();
    test_wire_indices_and_bounds();
    test_names_and_cost_model();
    MPI_Finalize();
    return 0;
}
