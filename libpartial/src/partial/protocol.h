/* The control messages of the partial allreduce's trigger (trigger.c). */
#ifndef LP_PARTIAL_PROTOCOL_H
#define LP_PARTIAL_PROTOCOL_H

#include <stdint.h>

enum lp_partial_message_type {
    LP_MSG_ARRIVE = 1, /* point_to_point only, to round value's host: the sender has called that round */
    LP_MSG_NOTICE,     /* along the binomial tree rooted at notice.root: what the root has learnt */
};

/* One control message. Every message has the same fixed size on the wire,
 * LP_CONTROL_WORDS int64 words (MPI_INT64_T), so one posted receive takes
 * any of them; type says which member of the union is meant. */
struct lp_partial_control {
    int64_t type; /* enum lp_partial_message_type */
    union {
        int64_t value; /* ARRIVE: the round */
        /* NOTICE: every field only ever grows, except failure, which is
         * kept from the first notice that carries one; so notices that
         * cross or overtake one another merge in any order. */
        struct {
            int64_t root;          /* the rank that started it: the tree's root */
            int64_t fired_through; /* rounds up to this one have reached their quorum */
            int64_t min_calls;     /* every rank has called this many rounds (bounded staleness) */
            int64_t failure;       /* lp_result_t: a call-time error of failed_rank, or LP_SUCCESS */
            int64_t failed_rank;
            int64_t unused[2];
        } notice;
    };
};

enum { LP_CONTROL_WORDS = 8 };
/* The tags on the object's communicator: protocol messages, and the reductions' data. */
enum { LP_CONTROL_TAG = 1, LP_REDUCE_TAG = 2 };
_Static_assert(sizeof(struct lp_partial_control) == LP_CONTROL_WORDS * sizeof(int64_t),
               "a control message is LP_CONTROL_WORDS int64 words on the wire, no padding");

#endif /* LP_PARTIAL_PROTOCOL_H */
