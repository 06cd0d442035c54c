/* How the library was built, for bug reports (python -m partial4py.info).
 * LP_BUILD_OPTIONS is composed by CMake (libpartial/CMakeLists.txt). */
#include "core/core.h"

#ifndef LP_BUILD_OPTIONS
#error "LP_BUILD_OPTIONS is defined by the build"
#endif

const char *lp_build_options(void) { return LP_BUILD_OPTIONS; }
