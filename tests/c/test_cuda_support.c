/* CUDA-awareness detection: the MPI's own run-time query, LP_CUDA_AWARE
 * over it, and the refusals (a bad value, NULL, MPI not running). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <string.h>

#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>
#endif

/* The answer of the query this MPI offers, asked here directly. */
static void ask_mpi(int *cuda_aware, lp_cuda_source_t *source)
{
#if defined(MPIX_CUDA_AWARE_SUPPORT)
    *source = LP_CUDA_SOURCE_OPENMPI;
    *cuda_aware = MPIX_Query_cuda_support() == 1;
#if !MPIX_CUDA_AWARE_SUPPORT
    /* An Open MPI configured without CUDA cannot be CUDA-aware at run time. */
    CHECK(*cuda_aware == 0);
#endif
#elif defined(LP_HAVE_MPIX_GPU_QUERY_SUPPORT)
    *source = LP_CUDA_SOURCE_MPICH;
    int supported = -1;
    CHECK(MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA, &supported) == MPI_SUCCESS);
    CHECK(supported == 0 || supported == 1);
    *cuda_aware = supported;
#else
    *source = LP_CUDA_SOURCE_NONE;
    *cuda_aware = 0;
#endif
}

static void check_answer(int expected_aware, lp_cuda_source_t expected_source)
{
    int aware = -1;
    lp_cuda_source_t source = (lp_cuda_source_t)-1;
    CHECK_OK(lp_query_cuda_support(&aware, &source));
    CHECK(aware == expected_aware);
    CHECK(source == expected_source);
}

static void check_refused(const char *value)
{
    CHECK(setenv("LP_CUDA_AWARE", value, 1) == 0);
    int aware = 7;
    lp_cuda_source_t source = (lp_cuda_source_t)7;
    CHECK(lp_query_cuda_support(&aware, &source) == LP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(lp_get_last_error(), "LP_CUDA_AWARE") != NULL);
    CHECK(strstr(lp_get_last_error(), value) != NULL);
    /* A refused call leaves the outputs alone. */
    CHECK(aware == 7 && source == (lp_cuda_source_t)7);
}

int main(int argc, char **argv)
{
    int aware;
    lp_cuda_source_t source;
    CHECK(lp_query_cuda_support(&aware, &source) == LP_ERR_MPI);
    CHECK(strstr(lp_get_last_error(), "not initialized") != NULL);

    MPI_Init(&argc, &argv);
    CHECK(unsetenv("LP_CUDA_AWARE") == 0);
    int mpi_aware;
    lp_cuda_source_t mpi_source;
    ask_mpi(&mpi_aware, &mpi_source);
    check_answer(mpi_aware, mpi_source);
    /* The query the build chose fits the MPI that is running. */
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    CHECK_OK(lp_mpi_library_version(version, sizeof version));
    if (strstr(version, "Open MPI") != NULL) CHECK(mpi_source != LP_CUDA_SOURCE_MPICH);
    if (strstr(version, "MPICH") != NULL) CHECK(mpi_source != LP_CUDA_SOURCE_OPENMPI);

    CHECK(setenv("LP_CUDA_AWARE", "1", 1) == 0);
    check_answer(1, LP_CUDA_SOURCE_ENVIRONMENT);
    CHECK(setenv("LP_CUDA_AWARE", "0", 1) == 0);
    check_answer(0, LP_CUDA_SOURCE_ENVIRONMENT);
    check_refused("banana");
    check_refused("");
    check_refused("10");
    check_refused("true");
    /* Read on every call, never cached. */
    CHECK(unsetenv("LP_CUDA_AWARE") == 0);
    check_answer(mpi_aware, mpi_source);

    CHECK(lp_query_cuda_support(NULL, &source) == LP_ERR_INVALID_ARGUMENT);
    CHECK(lp_query_cuda_support(&aware, NULL) == LP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(lp_get_last_error(), "NULL") != NULL);

    CHECK(strcmp(lp_cuda_source_name(LP_CUDA_SOURCE_NONE), "none") == 0);
    CHECK(strcmp(lp_cuda_source_name(LP_CUDA_SOURCE_OPENMPI), "openmpi") == 0);
    CHECK(strcmp(lp_cuda_source_name(LP_CUDA_SOURCE_MPICH), "mpich") == 0);
    CHECK(strcmp(lp_cuda_source_name(LP_CUDA_SOURCE_ENVIRONMENT), "environment") == 0);
    CHECK(lp_cuda_source_name((lp_cuda_source_t)4) == NULL);
    CHECK(lp_cuda_source_name((lp_cuda_source_t)-1) == NULL);

    MPI_Finalize();
    CHECK(lp_query_cuda_support(&aware, &source) == LP_ERR_MPI);
    CHECK(strstr(lp_get_last_error(), "finalized") != NULL);
    return 0;
}
