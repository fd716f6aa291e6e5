/* arena.h: the arena's layout, shared by the C files of the engine (mg.c, optim.c).
 *
 * Internal: never given to cffi (mg.h is the API). Every function of the engine
 * that reads these arrays holds the lock, and re-reads the array pointers after
 * anything that can grow the arena.
 */
#ifndef MG_ARENA_H
#define MG_ARENA_H
#include <stdint.h>
#include "mg.h"

#if defined(MG_NO_LOCK)      /* the caller serialises calls (for measuring the lock) */
typedef int mg_lock;
#define LOCK_INIT(m) ((void)(m))
#define LOCK(m) ((void)(m))
#define UNLOCK(m) ((void)(m))
#define LOCK_DESTROY(m) ((void)(m))
#elif defined(_WIN32)
#include <windows.h>
typedef SRWLOCK mg_lock;
#define LOCK_INIT(m) InitializeSRWLock(m)
#define LOCK(m) AcquireSRWLockExclusive(m)
#define UNLOCK(m) ReleaseSRWLockExclusive(m)
#define LOCK_DESTROY(m) ((void)(m))
#else
#include <pthread.h>
typedef pthread_mutex_t mg_lock;
#define LOCK_INIT(m) pthread_mutex_init(m, NULL)
#define LOCK(m) pthread_mutex_lock(m)
#define UNLOCK(m) pthread_mutex_unlock(m)
#define LOCK_DESTROY(m) pthread_mutex_destroy(m)
#endif

/* Struct of arrays: node i is op[i], kids[i], refs[i], ... A free slot has refs 0
 * and links to the next free slot through kids[i][0]. order and stack are scratch
 * for backward and release, with no meaning between calls. */
struct mg_arena {
    int32_t len, cap, max_cap, live, free_head;
    uint8_t *op, *flags;    /* MG_DATA_INT | MG_GRAD_INT | MG_ARG_INT | MG_HAS_LABEL, and SEEN */
    int32_t (*kids)[2];     /* children lhs, rhs (one cache line for both), -1 if absent */
    int32_t *refs;          /* Python handles + parents holding this node */
    int32_t *order, *stack;
    double *arg;            /* per-node constant: the exponent of MG_POW */
    double *data, *grad;
    mg_lock lock;
};

static inline int mg_alive(const mg_arena *a, int32_t i)
{
    return i >= 0 && i < a->len && a->refs[i] > 0;
}

#endif
