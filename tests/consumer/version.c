/* Prints the version macros of the installed header and the version of the
 * library the program runs with, for the test that they agree. */
#include <libpartial.h>
#include <stdio.h>

#if LP_VERSION_CODE != LP_VERSION(LP_VERSION_MAJOR, LP_VERSION_MINOR, LP_VERSION_PATCH)
#error "LP_VERSION_CODE does not match LP_VERSION of the version macros"
#endif

int main(void)
{
    int major = -1, minor = -1, patch = -1;
    lp_get_version(&major, &minor, &patch);
    printf("header %d.%d.%d code %d\n", LP_VERSION_MAJOR, LP_VERSION_MINOR, LP_VERSION_PATCH, LP_VERSION_CODE);
    printf("library %d.%d.%d code %d\n", major, minor, patch, LP_VERSION(major, minor, patch));
    return 0;
}
