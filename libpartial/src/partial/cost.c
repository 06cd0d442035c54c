/* The alpha-beta cost model of a round's reduction, behind
 * LP_PARTIAL_ALGORITHM_AUTO. The formulas are explained in docs/partial.md. */
#include "partial/partial.h"

#include <math.h>
#include <stdlib.h>

const char *const lp_partial_algorithm_names[LP_PARTIAL_NUM_ALGORITHMS] = {
    [LP_PARTIAL_ALGORITHM_AUTO] = "auto",
    [LP_PARTIAL_ALGORITHM_RING] = "ring",
    [LP_PARTIAL_ALGORITHM_HALVING_DOUBLING] = "halving_doubling",
};

LP_DEFINE_NAME_LOOKUP(lp_partial_algorithm_name, lp_partial_algorithm_from_name, lp_partial_algorithm_t,
                      lp_partial_algorithm_names, LP_PARTIAL_NUM_ALGORITHMS, "partial allreduce algorithm")

int lp_partial_power_of_two_below(int nprocs, int *levels)
{
    int group = 1;
    *levels = 0;
    while (group <= nprocs / 2) group *= 2, ++*levels;
    return group;
}

int lp_partial_steps(lp_partial_algorithm_t algorithm, int nprocs)
{
    if (nprocs <= 1) return 0;
    if (algorithm == LP_PARTIAL_ALGORITHM_RING) return 2 * (nprocs - 1);
    int levels = 0;
    const int group = lp_partial_power_of_two_below(nprocs, &levels);
    return 2 * levels + 2 * (nprocs > group);
}

double lp_partial_estimate_seconds(lp_partial_algorithm_t algorithm, int64_t count, int64_t width, int nprocs,
                                   const struct lp_cost_model *c)
{
    if (nprocs <= 1) return 0;
    const double P = nprocs, bytes = (double)count * (double)width;
    const double messages = lp_partial_steps(algorithm, nprocs) * c->alpha;
    if (algorithm == LP_PARTIAL_ALGORITHM_RING)
        /* One block each way per step; (P-1) blocks reduced. */
        return messages + 2 * (P - 1) / P * bytes * c->beta + (P - 1) / P * bytes * c->delta;
    if (algorithm != LP_PARTIAL_ALGORITHM_HALVING_DOUBLING) return HUGE_VAL;
    int levels = 0;
    const int group = lp_partial_power_of_two_below(nprocs, &levels);
    const double G = group, folded = nprocs > group;
    /* The contribution is copied into the result first (the halving works
     * in place); a fold sends whole vectors in and out of the group. */
    return messages + (2 * (G - 1) / G + 2 * folded) * bytes * c->beta + ((G - 1) / G + folded + 1) * bytes * c->delta;
}

lp_partial_algorithm_t lp_partial_choose(int64_t count, int64_t width, int nprocs, const struct lp_cost_model *c)
{
    /* The ring on a tie: it needs no scratch vector. */
    const double ring = lp_partial_estimate_seconds(LP_PARTIAL_ALGORITHM_RING, count, width, nprocs, c);
    const double halving = lp_partial_estimate_seconds(LP_PARTIAL_ALGORITHM_HALVING_DOUBLING, count, width, nprocs, c);
    return halving < ring ? LP_PARTIAL_ALGORITHM_HALVING_DOUBLING : LP_PARTIAL_ALGORITHM_RING;
}

static int valid_problem(int64_t count, lp_datatype_t datatype, int nprocs)
{
    return count >= 0 && nprocs >= 1 && lp_datatype_is_valid(datatype);
}

double lp_partial_predict_seconds(lp_partial_algorithm_t algorithm, int64_t count, lp_datatype_t datatype,
                                  int nprocs)
{
    struct lp_cost_model model = {0};
    if (lp_cost_model_get(&model) != LP_SUCCESS) return NAN;
    if (!valid_problem(count, datatype, nprocs)) return HUGE_VAL;
    const int64_t width = lp_datatype_size(datatype);
    if (algorithm == LP_PARTIAL_ALGORITHM_AUTO) algorithm = lp_partial_choose(count, width, nprocs, &model);
    return lp_partial_estimate_seconds(algorithm, count, width, nprocs, &model);
}

lp_partial_algorithm_t lp_partial_select_algorithm(int64_t count, lp_datatype_t datatype, int nprocs)
{
    struct lp_cost_model model = {0};
    if (lp_cost_model_get(&model) != LP_SUCCESS) return LP_PARTIAL_ALGORITHM_AUTO;
    if (!valid_problem(count, datatype, nprocs)) return LP_PARTIAL_ALGORITHM_RING;
    return lp_partial_choose(count, lp_datatype_size(datatype), nprocs, &model);
}
