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

/* A kept topological order: the n non-leaf nodes reachable from root, children
 * first. Made by mg_forward, used by mg_forward and mg_backward, freed with
 * root's node (which has the PLANNED flag meanwhile); one allocation holds the
 * struct, order and span. span[k] is GROUP where a group of MG_DOT nodes (see
 * mg.c) starts at order[k], -GROUP where it ends, and 1 elsewhere. */
typedef struct mg_plan {
    int32_t root, n;
    struct mg_plan *next;
    int8_t *span;
    int32_t order[];
} mg_plan;

/* Struct of arrays: node i is op[i], kids[i], refs[i], ... A free slot has refs 0
 * and links to the next free slot through kids[i][0]. An n-ary node (MG_DOT,
 * MG_LSE) keeps its children in edges[kids[i][0] .. kids[i][0] + kids[i][1]).
 * order and stack are scratch for the topological walk and release, with no meaning
 * between calls. */
struct mg_arena {
    int32_t len, cap, max_cap, live, free_head;
    uint8_t *op, *flags;    /* MG_DATA_INT | MG_GRAD_INT | MG_ARG_INT | MG_HAS_LABEL | MG_PYTHON, and mg.c's own */
    int32_t (*kids)[2];     /* children lhs, rhs (one cache line for both), -1 if absent;
                               n-ary nodes: offset and count in edges */
    int32_t *refs;          /* Python handles + parents holding this node */
    int32_t *order, *stack;
    double *arg;            /* per-node constant: the exponent of MG_POW */
    double *data, *grad;
    int32_t *edges;         /* children of n-ary nodes; freed ranges are dead until compacted */
    int64_t edges_len, edges_cap, edges_dead;
    mg_plan *plans;
    mg_lock lock;
};

static inline int mg_alive(const mg_arena *a, int32_t i)
{
    return i >= 0 && i < a->len && a->refs[i] > 0;
}

#endif
