/* arena.h: the arena's layout and its small helpers, shared by the C files of the
 * engine (arena.c, build.c, plan.c, optim.c; eval.h).
 *
 * Internal: never given to cffi (mg.h is the API). Every function of the engine
 * that reads these arrays holds the lock, and re-reads the array pointers after
 * anything that can grow the arena. Functions one file calls in another's hot path
 * are static inline here: each C file is its own translation unit, and a call
 * across files is never inlined.
 */
#ifndef MG_ARENA_H
#define MG_ARENA_H
#include <stdint.h>
#include "mg.h"
#include "ops.h"

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

#if defined(__GNUC__)
#define HOT_INLINE inline __attribute__((always_inline))    /* in the hot loops too */
#define INTERNAL __attribute__((visibility("hidden")))      /* shared by our files only:
                                                               a direct call, not the PLT */
#else
#define HOT_INLINE inline
#define INTERNAL
#endif

/* A kept topological order: the n non-leaf nodes reachable from root, children
 * first. Made by mg_forward, used by mg_forward and mg_backward, freed with
 * root's node (which has the PLANNED flag meanwhile); one allocation holds the
 * struct, order and group_at. group_at[k] is GROUP where a group of MG_DOT nodes
 * (plan.c) starts at order[k], -GROUP where it ends, and 1 elsewhere. */
typedef struct mg_plan {
    int32_t root, n;
    struct mg_plan *next;
    int8_t *group_at;
    int32_t order[];
} mg_plan;

typedef int32_t mg_pair[2];

/* The arrays of the arena, one entry per node slot, named once here: the struct,
 * growth, free and the byte count of a slot are made from these lists.
 * NODE_ARRAYS are copied when the arena grows; SCRATCH_ARRAYS are scratch for the
 * topological walk and release, with no meaning between calls. */
#define NODE_ARRAYS(X) \
    X(uint8_t, op)      /* an mg_op */ \
    X(uint8_t, flags)   /* MG_DATA_INT | MG_GRAD_INT | MG_ARG_INT | MG_HAS_LABEL | MG_PYTHON, \
                           and SEEN, PLANNED, RUN below */ \
    X(mg_pair, kids)    /* children lhs, rhs (one cache line for both), -1 if absent; \
                           n-ary nodes: EDGES_AT(offset) and count in edges */ \
    X(int32_t, refs)    /* Python handles + parents holding this node */ \
    X(double, arg)      /* per-node constant: the exponent of MG_POW */ \
    X(double, data) \
    X(double, grad)
#define SCRATCH_ARRAYS(X) \
    X(int32_t, order) \
    X(int32_t, stack)
#define ARENA_ARRAYS(X) NODE_ARRAYS(X) SCRATCH_ARRAYS(X)

#define SLOT_BYTES(type, name) + sizeof(type)
#define NODE_BYTES (0 ARENA_ARRAYS(SLOT_BYTES))     /* bytes of one slot, every array */

/* Struct of arrays: node i is op[i], kids[i], refs[i], ... A free slot has refs 0
 * and links to the next free slot through kids[i][0]. An n-ary node (MG_DOT,
 * MG_LSE, MG_PICK, MG_PY) keeps its children in edges (below). */
#define ARRAY_FIELD(type, name) type *name;
struct mg_arena {
    int32_t len, cap, max_cap, live, free_head;
    ARENA_ARRAYS(ARRAY_FIELD)
    int32_t *edges;         /* children of n-ary nodes; freed ranges are dead until compacted */
    int64_t edges_len, edges_cap, edges_dead;
    mg_plan *plans;
    int64_t python_leaves;  /* leaves with MG_PYTHON: no kept order holds them (see mg_backward) */
    mg_lock lock;
};

/* flag bits never seen by Python (not mg.h's MG_*_INT bits): SEEN marks a node
 * reached by the running topological walk, never set between calls; PLANNED a
 * node that is the root of a kept order; RUN an MG_DOT node whose weights are
 * consecutive nodes (w[j] is w[0] + j: their data and grads are contiguous) */
#define SEEN 16
#define PLANNED 32
#define RUN 64

/* An n-ary node's kids[i][0] is -2 - the offset of its children in edges, so that
 * a pass over nodes of two children at most sees no child there (< 0), and -1
 * still means a leaf. EDGES_AT converts both ways. */
#define EDGES_AT(x) (-2 - (x))

static inline int mg_alive(const mg_arena *a, int32_t i)
{
    return i >= 0 && i < a->len && a->refs[i] > 0;
}

/* node j's data, with whether micrograd holds it as a Python int */
static inline mg_number data_of(const mg_arena *a, int32_t j)
{
    return (mg_number){ a->data[j], (a->flags[j] & MG_DATA_INT) != 0 };
}

/* node i's children: a pointer to them and their count (valid until the next
 * allocation in the arena) */
static inline int32_t children(const mg_arena *a, int32_t i, const int32_t **out)
{
    int n = arity[a->op[i]];
    if (n == NARY) {
        *out = a->edges + EDGES_AT(a->kids[i][0]);
        return a->kids[i][1];
    }
    *out = a->kids[i];
    return n;
}

static inline void set_flag(uint8_t *flags, int bit, int on)
{
    *flags = (uint8_t)(on ? (*flags | bit) : (*flags & ~bit));
}

/* grad = 0, the int 0 of a fresh micrograd Value: every reset of a grad */
static HOT_INLINE void zero_grad(mg_arena *a, int32_t i)
{
    a->grad[i] = 0;
    a->flags[i] |= MG_GRAD_INT;
}

/* arena.c: growth and slots (all or nothing: MG_ENOMEM changes nothing), edges,
 * lifetime; plan.c: a freed root's kept order, and a root's (for batch_graph.c) */
INTERNAL int grow(mg_arena *a, int32_t cap);
INTERNAL int reserve_edges(mg_arena *a, int64_t n);
INTERNAL void drop(mg_arena *a, int32_t i);
INTERNAL void plan_free(mg_arena *a, int32_t root);
INTERNAL mg_plan *plan_of(mg_arena *a, int32_t root);  /* root's kept order, made if it has
                                                          none; NULL when out of memory */

/* A free slot if there is one, else a new one, doubling the arena when full. */
static inline int take_slot(mg_arena *a, int32_t *out)
{
    if (a->free_head >= 0) {
        *out = a->free_head;
        a->free_head = a->kids[*out][0];
        return MG_OK;
    }
    if (a->len == a->cap) {
        if (a->cap >= a->max_cap)
            return MG_ENOMEM;
        int64_t cap = (int64_t)a->cap * 2;
        int status = grow(a, cap > a->max_cap ? a->max_cap : (int32_t)cap);
        if (status != MG_OK)
            return status;
    }
    *out = a->len++;
    return MG_OK;
}

#endif
