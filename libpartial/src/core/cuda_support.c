/* Whether the MPI library accepts CUDA device pointers, asked at run time:
 * an MPI built with CUDA may still run without it (no driver, or support
 * turned off), so the answer cannot be fixed when libpartial is compiled. */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>
#endif

/* MPIX_CUDA_AWARE_SUPPORT only says that Open MPI's CUDA extension is there
 * (its value is whether Open MPI was configured with CUDA);
 * MPIX_Query_cuda_support() says whether this run can use it. MPICH's query
 * is found by the build (LP_HAVE_MPIX_GPU_QUERY_SUPPORT), as its mpi.h has
 * no macro to test. */
#if defined(MPIX_CUDA_AWARE_SUPPORT)
static const lp_cuda_source_t built_source = LP_CUDA_SOURCE_OPENMPI;
#elif defined(LP_HAVE_MPIX_GPU_QUERY_SUPPORT)
static const lp_cuda_source_t built_source = LP_CUDA_SOURCE_MPICH;
#else
static const lp_cuda_source_t built_source = LP_CUDA_SOURCE_NONE;
#endif

static lp_result_t query_mpi(int *cuda_aware)
{
#if defined(MPIX_CUDA_AWARE_SUPPORT)
    *cuda_aware = MPIX_Query_cuda_support() == 1;
#elif defined(LP_HAVE_MPIX_GPU_QUERY_SUPPORT)
    int supported = 0;
    LP_TRY_MPI(MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA, &supported));
    *cuda_aware = supported != 0;
#else
    *cuda_aware = 0;
#endif
    return LP_SUCCESS;
}

/* LP_CUDA_AWARE: 1 or 0 sets *cuda_aware and *overridden; unset leaves
 * *overridden 0. Anything else is refused rather than guessed at. */
static lp_result_t read_override(int *cuda_aware, int *overridden)
{
    const char *text = getenv("LP_CUDA_AWARE");
    *overridden = text != NULL;
    if (text == NULL) return LP_SUCCESS;
    if (strcmp(text, "1") == 0 || strcmp(text, "0") == 0) {
        *cuda_aware = text[0] == '1';
        return LP_SUCCESS;
    }
    return lp_fail(LP_ERR_INVALID_ARGUMENT, "LP_CUDA_AWARE=\"%.64s\": expected 1 (CUDA-aware) or 0 (not)", text);
}

lp_result_t lp_query_cuda_support(int *cuda_aware, lp_cuda_source_t *source)
{
    if (cuda_aware == NULL || source == NULL)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "lp_query_cuda_support: cuda_aware and source must not be NULL");
    int initialized = 0, finalized = 0;
    LP_TRY_MPI(MPI_Initialized(&initialized));
    LP_TRY_MPI(MPI_Finalized(&finalized));
    if (!initialized || finalized)
        return lp_fail(LP_ERR_MPI, "lp_query_cuda_support: MPI is %s", finalized ? "finalized" : "not initialized");
    int aware = 0, overridden = 0;
    LP_TRY(read_override(&aware, &overridden));
    if (overridden) {
        *cuda_aware = aware;
        *source = LP_CUDA_SOURCE_ENVIRONMENT;
        return LP_SUCCESS;
    }
    LP_TRY(query_mpi(&aware));
    *cuda_aware = aware;
    *source = built_source;
    return LP_SUCCESS;
}

const char *lp_cuda_source_name(lp_cuda_source_t source)
{
    switch (source) {
    case LP_CUDA_SOURCE_NONE: return "none";
    case LP_CUDA_SOURCE_OPENMPI: return "openmpi";
    case LP_CUDA_SOURCE_MPICH: return "mpich";
    case LP_CUDA_SOURCE_ENVIRONMENT: return "environment";
    default: return NULL;
    }
}
