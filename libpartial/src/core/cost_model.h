/* The constants of the alpha-beta cost models (cost_model.c). */
#ifndef LP_CORE_COST_MODEL_H
#define LP_CORE_COST_MODEL_H

#include "libpartial.h"

/* alpha: seconds per message; beta: per byte sent; gamma: per sparse entry
 * sorted, merged or copied; delta: per dense byte touched locally (zeroing,
 * scatter, scan, reduction). */
struct lp_cost_model {
    double alpha, beta, gamma, delta;
};

/* The model the auto choices use: the defaults, LP_SPARSE_COST_MODEL's file
 * (read once) or what lp_sparse_set_cost_model set. LP_ERR_INVALID_ARGUMENT
 * when that file cannot be read or is not a cost model. */
lp_result_t lp_cost_model_get(struct lp_cost_model *model);

#endif /* LP_CORE_COST_MODEL_H */
