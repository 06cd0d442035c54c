/* The core layer: what every collective builds on. Not installed; the
 * layers above (dense, sparse, partial) include this, never each other. */
#ifndef LP_CORE_CORE_H
#define LP_CORE_CORE_H

#include "core/chunk.h"
#include "core/cost_model.h"
#include "core/comm.h"
#include "core/datatype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/request.h"
#include "core/scratch.h"

#endif /* LP_CORE_CORE_H */
