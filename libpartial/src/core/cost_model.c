/* The alpha-beta-gamma-delta constants that the cost models of sparse
 * (LP_SPARSE_AUTO) and partial (LP_PARTIAL_ALGORITHM_AUTO) allreduce share:
 * the defaults, a calibrated file, or what the user set. */
#include "core/cost_model.h"
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults fitted on the target grid of docs/performance.md (N 2^16..2^24, density 0.1..50%, P 2 and 4) on a
 * shared-memory node (Open MPI 4.1, x86-64, ranks oversubscribed), choosing among the
 * constant sets with the least worst-cell regret the one nearest to what
 * `python -m partial4py.calibrate` measures locally (gamma 6.6e-9, delta 1.1e-10).
 * alpha and beta are those of a loaded node: two ranks per core halve the bandwidth a
 * ping-pong sees. LP_SPARSE_COST_MODEL names a JSON file (written by calibrate) that
 * replaces them; docs/performance.md has the fit. */
static struct lp_cost_model constants = {4.0e-6, 3.2e-10, 4.6e-9, 1.2e-10};
static pthread_once_t constants_once = PTHREAD_ONCE_INIT;
/* Why LP_SPARSE_COST_MODEL's file cannot be used; empty when it can, or
 * when lp_sparse_set_cost_model has replaced it. A bad file is an error, not
 * a quiet fall back to the defaults: auto would then run on a model the
 * user did not mean, and differ from the ranks that read the file. */
static char load_failure[768];

enum { MAX_MODEL_FILE = 64 * 1024 };

static void note_load_failure(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_load_failure(const char *path, const char *fmt, ...)
{
    char why[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, sizeof why, fmt, args);
    va_end(args);
    snprintf(load_failure, sizeof load_failure,
             "LP_SPARSE_COST_MODEL=%s: %s; fix or unset it, or set the model with lp_sparse_set_cost_model", path,
             why);
}

/* 1 when key is there with a number >= 0 (stored in *value), 0 when it is
 * absent, -1 when its value is anything else. */
static int read_constant(const char *json, const char *key, double *value)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *at = strstr(json, quoted);
    if (at == NULL) return 0;
    at += strlen(quoted);
    while (isspace((unsigned char)*at)) at++;
    if (*at != ':') return -1;
    char *end = NULL;
    const double parsed = strtod(at + 1, &end);
    if (end == at + 1) return -1;
    while (isspace((unsigned char)*end)) end++;
    if ((*end != ',' && *end != '}') || !isfinite(parsed) || !(parsed >= 0)) return -1;
    *value = parsed;
    return 1;
}

/* A JSON object that gives at least one constant, each a finite number >= 0;
 * the ones it leaves out keep their defaults (calibrate on one rank measures
 * no alpha or beta). Not a full JSON parser: the file is calibrate's. */
static void parse_constants(const char *path, const char *json, size_t length)
{
    const char *first = json, *last = json + length;
    while (first < last && isspace((unsigned char)*first)) first++;
    while (last > first && isspace((unsigned char)last[-1])) last--;
    if (strlen(json) != length || first == last || *first != '{' || last[-1] != '}') {
        note_load_failure(path, "not a JSON object");
        return;
    }
    static const char *const keys[4] = {"alpha", "beta", "gamma", "delta"};
    double values[4] = {constants.alpha, constants.beta, constants.gamma, constants.delta};
    int found = 0;
    for (int i = 0; i < 4; i++) {
        const int read = read_constant(json, keys[i], &values[i]);
        if (read < 0) {
            note_load_failure(path, "\"%s\" is not a finite number >= 0", keys[i]);
            return;
        }
        found += read;
    }
    if (found == 0) {
        note_load_failure(path, "names none of alpha, beta, gamma, delta");
        return;
    }
    constants = (struct lp_cost_model){values[0], values[1], values[2], values[3]};
}

static void load_constants(void)
{
    const char *path = getenv("LP_SPARSE_COST_MODEL");
    if (path == NULL || *path == '\0') return;
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        note_load_failure(path, "cannot open it: %s", strerror(errno));
        return;
    }
    char *json = malloc(MAX_MODEL_FILE + 1);
    if (json == NULL) {
        fclose(file);
        note_load_failure(path, "no memory to read it");
        return;
    }
    errno = 0;
    const size_t length = fread(json, 1, MAX_MODEL_FILE + 1, file);
    const int error = ferror(file) ? errno : 0;
    fclose(file);
    if (error != 0)
        note_load_failure(path, "cannot read it: %s", strerror(error));
    else if (length > MAX_MODEL_FILE)
        note_load_failure(path, "larger than %d KiB, so not a cost model", MAX_MODEL_FILE / 1024);
    else {
        json[length] = '\0';
        parse_constants(path, json, length);
    }
    free(json);
}

lp_result_t lp_cost_model_get(struct lp_cost_model *model)
{
    pthread_once(&constants_once, load_constants);
    if (load_failure[0] != '\0') return lp_fail(LP_ERR_INVALID_ARGUMENT, "%s", load_failure);
    *model = constants;
    return LP_SUCCESS;
}

lp_result_t lp_sparse_get_cost_model(double *alpha, double *beta, double *gamma, double *delta)
{
    if (alpha == NULL || beta == NULL || gamma == NULL || delta == NULL)
        return lp_fail(LP_ERR_INVALID_ARGUMENT, "output pointer is NULL");
    struct lp_cost_model model = {0};
    LP_TRY(lp_cost_model_get(&model));
    *alpha = model.alpha;
    *beta = model.beta;
    *gamma = model.gamma;
    *delta = model.delta;
    return LP_SUCCESS;
}

lp_result_t lp_sparse_set_cost_model(double alpha, double beta, double gamma, double delta)
{
    const double values[] = {alpha, beta, gamma, delta};
    for (int i = 0; i < 4; i++)
        if (!(values[i] >= 0) || !isfinite(values[i]))
            return lp_fail(LP_ERR_INVALID_ARGUMENT, "cost model constant %g is not a finite number >= 0", values[i]);
    /* Read the file now, so that it cannot overwrite these later; what was
     * wrong with it no longer matters. */
    pthread_once(&constants_once, load_constants);
    constants = (struct lp_cost_model){alpha, beta, gamma, delta};
    load_failure[0] = '\0';
    return LP_SUCCESS;
}
