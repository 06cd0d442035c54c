/* Partial allreduce in every mode, with random per-rank delays: exact
 * conservation (all rounds plus the flush equal all contributions),
 * atomicity (each rank's contributions land in rounds as whole, contiguous
 * runs of calls), consistency (every rank sees the same bits and metadata)
 * and the quorum of each round. Each contribution is one-hot in its rank's
 * slots, carries its call number, and has a constant tail that a split
 * vector would break. Then mismatched creation arguments. */
#include "check.h"

#include <string.h>
#include <unistd.h>

enum { CALLS = 150, TAIL = 5, FILL = 7 };

static int64_t count_for(int size) { return 3 * (int64_t)size + TAIL; }

static void contribution(int64_t *v, int rank, int size, int64_t call)
{
    memset(v, 0, sizeof(int64_t) * (size_t)count_for(size));
    v[rank] = 1;
    v[size + rank] = call + 1;
    v[2 * size + rank] = (call + 1) * (call + 1);
    for (int i = 0; i < TAIL; i++) v[3 * size + i] = FILL;
}

struct ledger {
    int64_t consumed[64]; /* calls of each rank seen so far in results */
    int64_t total[64 * 3 + TAIL];
    uint64_t digest;
};

/* Checks one round's result and folds it into the ledger. */
static void account(struct ledger *ledger, const int64_t *result, const lp_partial_info_t *info, int size)
{
    int64_t calls = 0;
    for (int r = 0; r < size; r++) {
        int64_t n = result[r], a = ledger->consumed[r];
        /* calls a .. a+n-1 of rank r, whole and in order */
        int64_t s1 = 0, s2 = 0;
        for (int64_t c = a; c < a + n; c++) s1 += c + 1, s2 += (c + 1) * (c + 1);
        CHECK(result[size + r] == s1);
        CHECK(result[2 * size + r] == s2);
        ledger->consumed[r] += n;
        calls += n;
    }
    CHECK(calls == info->contributions);
    for (int i = 0; i < TAIL; i++) CHECK(result[3 * size + i] == FILL * info->contributions);
    for (int64_t i = 0; i < count_for(size); i++) {
        ledger->total[i] += result[i];
        uint64_t state = ledger->digest ^ (uint64_t)result[i];
        ledger->digest = test_random(&state);
    }
    uint64_t state = ledger->digest ^ (uint64_t)(info->round * 1000003 + info->contributions * 31 + info->fresh);
    ledger->digest = test_random(&state);
}

static void run_mode(lp_comm_t comm, lp_partial_mode_t mode, int quorum_k, int rank, int size)
{
    const int64_t count = count_for(size);
    lp_partial_t partial;
    CHECK_OK(lp_partial_create(count, LP_INT64, LP_SUM, mode, quorum_k, 3, 60.0, comm, &partial));
    int quorum = 0;
    CHECK_OK(lp_partial_quorum(partial, &quorum));
    int64_t *send = malloc(sizeof(int64_t) * (size_t)count), *recv = malloc(sizeof(int64_t) * (size_t)count);
    struct ledger ledger;
    memset(&ledger, 0, sizeof ledger);
    uint64_t rng = (uint64_t)rank * 7919 + (uint64_t)mode;
    for (int64_t call = 0; call < CALLS; call++) {
        /* Rank-skewed delays, so that late arrivals and carried contributions happen. */
        usleep((useconds_t)(test_random(&rng) % (100 + 150 * (uint64_t)rank)));
        contribution(send, rank, size, call);
        lp_partial_info_t info;
        if (call % 4 == 3) {
            lp_request_t request;
            CHECK_OK(lp_partial_start(partial, send, recv, &info, &request));
            int done = 0;
            CHECK_OK(lp_request_test(request, &done));
            CHECK_OK(lp_request_wait(request));
        } else {
            CHECK_OK(lp_partial_allreduce(partial, send, recv, &info));
        }
        CHECK(info.round == call);
        CHECK(info.quorum_met == 1);
        CHECK(info.fresh >= quorum);
        if (mode == LP_PARTIAL_SYNC) CHECK(info.contributions == size && info.fresh == size);
        account(&ledger, recv, &info, size);
    }
    lp_partial_info_t info;
    CHECK_OK(lp_partial_flush(partial, recv, &info));
    CHECK(info.round == CALLS);
    account(&ledger, recv, &info, size);
    for (int r = 0; r < size; r++) {
        CHECK(ledger.consumed[r] == CALLS);
        CHECK(ledger.total[r] == CALLS);
        CHECK(ledger.total[size + r] == CALLS * (CALLS + 1) / 2);
        CHECK(ledger.total[2 * size + r] == CALLS * (CALLS + 1) * (2 * CALLS + 1) / 6);
    }
    for (int i = 0; i < TAIL; i++) CHECK(ledger.total[3 * size + i] == (int64_t)FILL * CALLS * size);
    /* After a flush every rank's next call is the next round. */
    contribution(send, rank, size, 0);
    CHECK_OK(lp_partial_allreduce(partial, send, recv, &info));
    CHECK(info.round == CALLS + 1);
    CHECK_OK(lp_partial_flush(partial, recv, &info));

    uint64_t digests[2] = {ledger.digest, ~ledger.digest};
    MPI_Allreduce(MPI_IN_PLACE, digests, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    CHECK(digests[0] == ledger.digest && digests[1] == ~ledger.digest);
    CHECK_OK(lp_partial_destroy(partial));
    free(send);
    free(recv);
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    CHECK(provided == MPI_THREAD_MULTIPLE);
    lp_comm_t world;
    CHECK_OK(lp_comm_create(MPI_COMM_WORLD, &world));
    int rank, size;
    lp_comm_rank(world, &rank);
    lp_comm_size(world, &size);

    run_mode(world, LP_PARTIAL_SOLO, 0, rank, size);
    run_mode(world, LP_PARTIAL_MAJORITY, 0, rank, size);
    run_mode(world, LP_PARTIAL_SYNC, 0, rank, size);
    run_mode(world, LP_PARTIAL_QUORUM, size > 1 ? size - 1 : 1, rank, size);

    /* Mismatched mode: every rank fails, none hangs. */
    lp_partial_t partial = NULL;
    lp_partial_mode_t mode = rank == size - 1 ? LP_PARTIAL_SYNC : LP_PARTIAL_SOLO;
    lp_result_t rc = lp_partial_create(8, LP_INT64, LP_SUM, mode, 0, -1, 10.0, world, &partial);
    CHECK(size == 1 ? rc == LP_SUCCESS : rc == LP_ERR_MISMATCH);
    if (rc == LP_SUCCESS) CHECK_OK(lp_partial_destroy(partial));
    else CHECK(partial == NULL);
    /* A NULL buffer at call time fails the object on every rank. */
    CHECK_OK(lp_partial_create(8, LP_INT64, LP_SUM, LP_PARTIAL_SYNC, 0, -1, 30.0, world, &partial));
    int64_t buffer[8] = {0};
    rc = lp_partial_allreduce(partial, rank == 0 ? NULL : buffer, buffer, NULL);
    CHECK(rc == LP_ERR_INVALID_ARGUMENT);
    CHECK_OK(lp_partial_destroy(partial));

    CHECK_OK(lp_comm_destroy(world));
    MPI_Finalize();
    return 0;
}
