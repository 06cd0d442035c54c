/* Live objects released when MPI finalizes (registry.c). */
#ifndef LP_CORE_REGISTRY_H
#define LP_CORE_REGISTRY_H

#include "libpartial.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in each registered object. */
struct lp_registry_link {
    struct lp_registry_link *prev, *next;
    int listed;
};

/* A list of live objects whose MPI resources are released, by release, when
 * MPI finalizes: MPI_Finalize deletes MPI_COMM_SELF's attributes first
 * (MPI-3.1 8.7.1), the last moment MPI calls are allowed, and the standard
 * place to free what the user never did. The objects stay listed, so
 * release must do nothing to an object it already released; it runs under
 * the registry's lock, so an object being removed (destroyed) on another
 * thread waits for it. Each registry has its own attribute, and MPI deletes
 * attributes in the reverse order of their setting, so objects of a
 * registry first used later are released first. */
struct lp_registry {
    pthread_mutex_t lock;
    struct lp_registry_link *head;
    int64_t count;
    int keyval;
    void (*release)(struct lp_registry_link *link);
};

#define LP_REGISTRY_INIT(release_function) \
    {PTHREAD_MUTEX_INITIALIZER, NULL, 0, MPI_KEYVAL_INVALID, (release_function)}

/* The object that holds link as its member field. */
#define LP_CONTAINER_OF(link, type, field) ((type *)(void *)((char *)(link) - offsetof(type, field)))

/* Lists the object, setting the finalize hook on first use; fails only
 * when MPI cannot set it. */
lp_result_t lp_registry_add(struct lp_registry *registry, struct lp_registry_link *link);
/* Unlists it; nothing when it is not listed. */
void lp_registry_remove(struct lp_registry *registry, struct lp_registry_link *link);
/* Releases every listed object now, as MPI_Finalize would. */
void lp_registry_release_all(struct lp_registry *registry);
/* Objects added and not yet removed. */
int64_t lp_registry_count(struct lp_registry *registry);

#endif /* LP_CORE_REGISTRY_H */
