/* The control messages of the partial allreduce's protocol (progress.c). */
#ifndef LP_PARTIAL_PROTOCOL_H
#define LP_PARTIAL_PROTOCOL_H

#include <stdint.h>

enum lp_partial_message_type {
    LP_MSG_ARRIVE = 1, /* to the coordinator: this rank's call count */
    LP_MSG_FLUSH,      /* to the coordinator: this rank is in flush, after that many calls */
    LP_MSG_CLOSE,      /* to the coordinator: this rank is closing */
    LP_MSG_ERROR,      /* to the coordinator: this rank's call-time error */
    LP_MSG_NOTICE,     /* from the coordinator, to every rank: what it has decided */
};

/* One control message. Every message has the same fixed size on the wire,
 * LP_CONTROL_WORDS int64 words (MPI_INT64_T), so one posted receive takes
 * any of them; type says which member of the union is meant. */
struct lp_partial_control {
    int64_t type; /* enum lp_partial_message_type */
    union {
        /* ARRIVE and FLUSH: the sender's call count; ERROR: its lp_result_t; CLOSE: 0 */
        int64_t value;
        /* NOTICE: the coordinator's state, the same for every rank */
        struct {
            int64_t fired_through; /* rounds up to this one have fired */
            int64_t min_calls;     /* the slowest rank's call count (bounded staleness) */
            int64_t flush_round;   /* the drain round of the last flush, or -1 */
            int64_t forced_first;  /* rounds forced_first..flush_round-1 fired without quorum */
            int64_t failure;       /* lp_result_t: the first failure any rank reported */
            int64_t failed_rank;   /* the rank that reported it */
            int64_t finish;        /* 1 once every rank has closed */
        } notice;
    };
};

enum { LP_CONTROL_WORDS = 8 };
/* The tags on the object's communicator: protocol messages, and the reductions' data. */
enum { LP_CONTROL_TAG = 1, LP_REDUCE_TAG = 2 };
_Static_assert(sizeof(struct lp_partial_control) == LP_CONTROL_WORDS * sizeof(int64_t),
               "a control message is LP_CONTROL_WORDS int64 words on the wire, no padding");

#endif /* LP_PARTIAL_PROTOCOL_H */
