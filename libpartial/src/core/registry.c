/* The registry of live objects and its finalize hook (see registry.h). */
#include "core/registry.h"

#include "core/error.h"

void lp_registry_release_all(struct lp_registry *registry)
{
    pthread_mutex_lock(&registry->lock);
    for (struct lp_registry_link *link = registry->head; link != NULL; link = link->next) registry->release(link);
    pthread_mutex_unlock(&registry->lock);
}

static int release_all_at_finalize(MPI_Comm self, int keyval, void *value, void *extra)
{
    (void)self; (void)keyval; (void)value;
    lp_registry_release_all(extra);
    return MPI_SUCCESS;
}

static lp_result_t set_finalize_hook(struct lp_registry *registry)
{
    if (registry->keyval != MPI_KEYVAL_INVALID) return LP_SUCCESS;
    LP_TRY_MPI(MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, release_all_at_finalize, &registry->keyval, registry));
    lp_result_t rc = lp_check_mpi(MPI_Comm_set_attr(MPI_COMM_SELF, registry->keyval, NULL), "MPI_Comm_set_attr");
    if (rc != LP_SUCCESS) MPI_Comm_free_keyval(&registry->keyval); /* the next add tries again */
    return rc;
}

lp_result_t lp_registry_add(struct lp_registry *registry, struct lp_registry_link *link)
{
    pthread_mutex_lock(&registry->lock);
    lp_result_t rc = set_finalize_hook(registry);
    if (rc == LP_SUCCESS) {
        link->prev = NULL;
        link->next = registry->head;
        if (registry->head != NULL) registry->head->prev = link;
        registry->head = link;
        link->listed = 1;
        registry->count++;
    }
    pthread_mutex_unlock(&registry->lock);
    return rc;
}

void lp_registry_remove(struct lp_registry *registry, struct lp_registry_link *link)
{
    pthread_mutex_lock(&registry->lock);
    if (link->listed) {
        if (link->prev != NULL) link->prev->next = link->next;
        else registry->head = link->next;
        if (link->next != NULL) link->next->prev = link->prev;
        link->prev = link->next = NULL;
        link->listed = 0;
        registry->count--;
    }
    pthread_mutex_unlock(&registry->lock);
}

int64_t lp_registry_count(struct lp_registry *registry)
{
    pthread_mutex_lock(&registry->lock);
    const int64_t count = registry->count;
    pthread_mutex_unlock(&registry->lock);
    return count;
}
