/* Library communicators: tags and the collective agreement (comm.c). */
#ifndef LP_CORE_COMM_H
#define LP_CORE_COMM_H

#include "core/registry.h"
#include "libpartial.h"
#include <stdint.h>
#include <string.h>

struct lp_comm_s {
    MPI_Comm comm;          /* the private duplicate */
    int rank;
    int size;
    int released;           /* MPI resources gone (destroyed, or MPI finalized) */
    uint32_t op_sequence;   /* advances once per collective call, same on all ranks */
    struct lp_registry_link registry; /* among the live communicators */
};

/* A tag block unique to this collective call among those in flight on the
 * communicator: each call owns LP_TAGS_PER_OP consecutive tags. */
#define LP_TAGS_PER_OP 16
int lp_comm_next_tag_base(lp_comm_t comm);
/* How a mismatch message names an agreed parameter and writes its values. */
enum lp_param_kind {
    LP_PARAM_INTEGER,
    LP_PARAM_DOUBLE, /* the bits of a double (lp_double_bits) */
    LP_PARAM_ENUM,   /* value v is written names[v] */
};
struct lp_param {
    const char *name;
    enum lp_param_kind kind;
    const char *const *names; /* LP_PARAM_ENUM: nnames of them */
    int nnames;
    const char *hint;         /* appended to its mismatch message, or NULL */
};
#define LP_PARAM_INT(label) {.name = (label), .kind = LP_PARAM_INTEGER}
#define LP_PARAM_REAL(label) {.name = (label), .kind = LP_PARAM_DOUBLE}
#define LP_PARAM_NAMED(label, table) \
    {.name = (label), .kind = LP_PARAM_ENUM, .names = (table), .nnames = (int)(sizeof(table) / sizeof *(table))}

static inline int64_t lp_double_bits(double value)
{
    int64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* Every agreement reduces this many parameters, whatever it passes, so that
 * a rank that fails early (lp_comm_agree with none) matches its peers'
 * reduction. More than the public LP_AGREE_MAX_PARAMS: auto agrees on its
 * cost model too. */
#define LP_AGREE_SLOTS 12
/* lp_comm_agree with up to LP_AGREE_SLOTS parameters, described by
 * described[0..nparams) (NULL: "argument i", an integer), which also
 * replaces each of maxima[0..nmaxima) with its maximum over the ranks (free
 * to differ), in the same single reduction. Only a mismatch costs a second
 * one, to find which ranks hold the values its message shows. */
#define LP_AGREE_MAX_MAXIMA 4
lp_result_t lp_comm_agree_max(lp_comm_t comm, lp_result_t local, const int64_t *params,
                              const struct lp_param *described, int nparams, int64_t *maxima, int nmaxima);
lp_result_t lp_check_comm(lp_comm_t comm);

#endif /* LP_CORE_COMM_H */
