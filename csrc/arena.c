/* arena.c: the arena's slots: growth, edges, release, field access, statistics.
 *
 * Not here: making nodes (build.c), the op tables (ops.h, mg.c), walks over a graph
 * (plan.c). Growth is all or nothing: MG_ENOMEM leaves the graph as it was.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "arena.h"

/* ---------------------------------------------------------------- growth */

#define FREE_ARRAY(type, name) free(arrays->name);
static void free_arrays(mg_arena *arrays)
{
    ARENA_ARRAYS(FREE_ARRAY)
}

/* Allocate every array at the new capacity, copy, and swap only when all
 * allocations succeeded: MG_ENOMEM leaves the graph as it was. */
int grow(mg_arena *a, int32_t cap)
{
    mg_arena n = { 0 };    /* only its arrays are used: never copy the lock */
    int ok = 1;
#define ALLOC_ARRAY(type, name) ok &= (n.name = malloc((size_t)cap * sizeof(type))) != NULL;
    ARENA_ARRAYS(ALLOC_ARRAY)
    if (!ok) {
        free_arrays(&n);
        return MG_ENOMEM;
    }
    /* Write the scratch arrays now so that their pages are mapped here rather than
     * by page faults in the first backward (benchmarks/RESULTS.md, backward).
     * Not with zeros: compilers turn malloc + memset(0) into calloc, which maps nothing. */
#define FILL_ARRAY(type, name) memset(n.name, 0xff, (size_t)cap * sizeof(type));
    SCRATCH_ARRAYS(FILL_ARRAY)
    size_t k = (size_t)a->len;
#define COPY_ARRAY(type, name) if (k) memcpy(n.name, a->name, k * sizeof(type));
    NODE_ARRAYS(COPY_ARRAY)
    free_arrays(a);
    /* Swap the arrays one by one. `*a = n` would also write back a stale copy of
     * the lock word, and a thread waiting on the lock would never be woken. */
#define MOVE_ARRAY(type, name) a->name = n.name;
    ARENA_ARRAYS(MOVE_ARRAY)
    a->cap = cap;
    return MG_OK;
}

mg_arena *mg_arena_new(int32_t cap)
{
    mg_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->max_cap = MG_INDEX_MASK;
    a->free_head = -1;
    if (grow(a, cap < 16 ? 16 : cap > MG_INDEX_MASK ? MG_INDEX_MASK : cap) != MG_OK) {
        free(a);
        return NULL;
    }
    LOCK_INIT(&a->lock);
    return a;
}

void mg_arena_free(mg_arena *a)
{
    if (!a)
        return;
    LOCK_DESTROY(&a->lock);
    while (a->plans) {
        mg_plan *p = a->plans;
        a->plans = p->next;
        free(p);
    }
    free_arrays(a);
    free(a->edges);
    free(a);
}

void mg_arena_stats(mg_arena *a, mg_stats *out)
{
    LOCK(&a->lock);
    out->live = a->live;
    out->cap = a->cap;
    out->bytes_per_node = (int64_t)NODE_BYTES;
    out->bytes = (int64_t)a->cap * (int64_t)NODE_BYTES;
    out->edges = a->edges_len - a->edges_dead;
    out->edge_bytes = a->edges_cap * (int64_t)sizeof(int32_t);
    out->plans = out->plan_bytes = 0;
    for (mg_plan *p = a->plans; p; p = p->next) {
        out->plans++;
        out->plan_bytes += (int64_t)(sizeof *p + (size_t)p->n * sizeof(int32_t));
    }
    UNLOCK(&a->lock);
}

int mg_arena_limit(mg_arena *a, int32_t max_cap)
{
    if (max_cap < 1)
        return MG_ERANGE;
    LOCK(&a->lock);
    a->max_cap = max_cap < MG_INDEX_MASK ? max_cap : MG_INDEX_MASK;
    UNLOCK(&a->lock);
    return MG_OK;
}

/* ---------------------------------------------------------------- edges */

/* Room for n more edges. When the array is full, copy the live ranges of
 * every n-ary node into a new array (in node order) with at least half of it
 * free, plus a quarter of the node count: a compaction is paid by the edges
 * appended before the next. All or nothing, like grow(). */
int reserve_edges(mg_arena *a, int64_t n)
{
    if (a->edges && a->edges_cap - a->edges_len >= n)
        return MG_OK;           /* (allocated on first use, even for no children) */
    int64_t need = a->edges_len - a->edges_dead + n, cap = 1024;
    while (cap < 2 * need + a->len / 4)
        cap *= 2;
    if (cap > INT32_MAX)
        return MG_ENOMEM;
    int32_t *edges = malloc((size_t)cap * sizeof *edges);
    if (!edges)
        return MG_ENOMEM;
    int64_t len = 0;
    for (int32_t i = 0; i < a->len; i++) {
        if (a->refs[i] > 0 && arity[a->op[i]] == NARY) {
            const int32_t *k;
            int32_t count = children(a, i, &k);
            memcpy(edges + len, k, (size_t)count * sizeof *edges);
            a->kids[i][0] = EDGES_AT((int32_t)len);
            len += count;
        }
    }
    free(a->edges);
    a->edges = edges;
    a->edges_cap = cap;
    a->edges_len = len;
    a->edges_dead = 0;
    return MG_OK;
}

/* ---------------------------------------------------------------- lifetime */

int mg_retain(mg_arena *a, int32_t i)
{
    LOCK(&a->lock);
    int status = mg_alive(a, i) ? MG_OK : MG_EINDEX;
    if (status == MG_OK)
        a->refs[i]++;
    UNLOCK(&a->lock);
    return status;
}

/* Drop one reference to node i and free every node that no longer has any,
 * with an explicit stack (a 10-million-long chain is freed without recursion). */
void drop(mg_arena *a, int32_t i)
{
    int32_t top = 0;
    if (--a->refs[i] == 0)
        a->stack[top++] = i;
    while (top > 0) {
        int32_t j = a->stack[--top];
        const int32_t *k;
        int32_t n = children(a, j, &k);
        for (int32_t c = 0; c < n; c++)
            if (--a->refs[k[c]] == 0)
                a->stack[top++] = k[c];
        if (arity[a->op[j]] == NARY)
            a->edges_dead += n;
        if (a->flags[j] & PLANNED)
            plan_free(a, j);
        if (a->op[j] == MG_LEAF && (a->flags[j] & MG_PYTHON))
            a->python_leaves--;
        a->kids[j][0] = a->free_head;
        a->kids[j][1] = -1;
        a->free_head = j;
        a->live--;
    }
}

/* One reference from each node of idx; indices that are not live nodes are
 * skipped and reported. */
int mg_release(mg_arena *a, const int32_t *idx, int32_t n)
{
    LOCK(&a->lock);
    int status = MG_OK;
    for (int32_t k = 0; k < n; k++) {
        if (mg_alive(a, idx[k]))
            drop(a, idx[k]);
        else
            status = MG_EINDEX;
    }
    UNLOCK(&a->lock);
    return status;
}

/* ---------------------------------------------------------------- access */

int mg_get(mg_arena *a, int32_t i, int field, mg_number *out)
{
    LOCK(&a->lock);
    int status = mg_alive(a, i) ? MG_OK : MG_EINDEX;
    if (status == MG_OK) {
        switch (field) {
        case MG_DATA: out->value = a->data[i]; out->is_int = (a->flags[i] & MG_DATA_INT) != 0; break;
        case MG_GRAD: out->value = a->grad[i]; out->is_int = (a->flags[i] & MG_GRAD_INT) != 0; break;
        case MG_ARG:  out->value = a->arg[i];  out->is_int = (a->flags[i] & MG_ARG_INT) != 0; break;
        case MG_LABEL: out->value = 0; out->is_int = (a->flags[i] & MG_HAS_LABEL) != 0; break;
        case MG_PYSTATE: out->value = 0; out->is_int = (a->flags[i] & MG_PYTHON) != 0; break;
        default: status = MG_EINDEX;
        }
    }
    UNLOCK(&a->lock);
    return status;
}

double mg_value(mg_arena *a, int32_t i, int field)
{
    mg_number n;
    return mg_get(a, i, field, &n) == MG_OK ? n.value : NAN;
}

int mg_is_int(mg_arena *a, int32_t i, int field)
{
    mg_number n;
    return mg_get(a, i, field, &n) == MG_OK && n.is_int;
}

int mg_set(mg_arena *a, int32_t i, int field, double value, int is_int)
{
    LOCK(&a->lock);
    int status = mg_alive(a, i) ? MG_OK : MG_EINDEX;
    if (status == MG_OK) {
        switch (field) {
        case MG_DATA: a->data[i] = value; set_flag(&a->flags[i], MG_DATA_INT, is_int); break;
        case MG_GRAD: a->grad[i] = value; set_flag(&a->flags[i], MG_GRAD_INT, is_int); break;
        case MG_LABEL: set_flag(&a->flags[i], MG_HAS_LABEL, is_int); break;
        case MG_PYSTATE:    /* a leaf's flag is its rule's alone: it can be cleared */
            if (a->op[i] == MG_LEAF && (is_int != 0) != ((a->flags[i] & MG_PYTHON) != 0)) {
                a->python_leaves += is_int ? 1 : -1;
                a->flags[i] ^= MG_PYTHON;
            } else if (is_int) {
                a->flags[i] |= MG_PYTHON;
            }
            break;
        default: status = MG_EINDEX;
        }
    }
    UNLOCK(&a->lock);
    return status;
}

/* every index live and the field one of data and grad: or nothing is done */
static int check_many(const mg_arena *a, int field, const int32_t *idx, int32_t n)
{
    if (n < 0 || (n > 0 && !idx) || (field != MG_DATA && field != MG_GRAD))
        return MG_EINDEX;
    for (int32_t k = 0; k < n; k++)
        if (!mg_alive(a, idx[k]))
            return MG_EINDEX;
    return MG_OK;
}

int mg_get_many(mg_arena *a, int field, const int32_t *idx, double *out, int32_t n)
{
    LOCK(&a->lock);
    int status = check_many(a, field, idx, n);
    if (status == MG_OK && n > 0 && !out)
        status = MG_EINDEX;
    const double *from = field == MG_DATA ? a->data : a->grad;
    for (int32_t k = 0; k < n && status == MG_OK; k++)
        out[k] = from[idx[k]];
    UNLOCK(&a->lock);
    return status;
}

int mg_set_many(mg_arena *a, int field, const int32_t *idx, const double *values,
                const uint8_t *is_int, int32_t n)
{
    LOCK(&a->lock);
    int status = check_many(a, field, idx, n);
    if (status == MG_OK && n > 0 && !values)
        status = MG_EINDEX;
    double *to = field == MG_DATA ? a->data : a->grad;
    int bit = field == MG_DATA ? MG_DATA_INT : MG_GRAD_INT;
    for (int32_t k = 0; k < n && status == MG_OK; k++) {
        to[idx[k]] = values[k];
        set_flag(&a->flags[idx[k]], bit, is_int && is_int[k]);
    }
    UNLOCK(&a->lock);
    return status;
}

int mg_node(mg_arena *a, int32_t i, int *op, int32_t *lhs, int32_t *rhs)
{
    LOCK(&a->lock);
    int status = mg_alive(a, i) ? MG_OK : MG_EINDEX;
    if (status == MG_OK) {
        int nary = arity[a->op[i]] == NARY;
        *op = a->op[i];
        *lhs = nary ? -1 : a->kids[i][0];
        *rhs = nary ? -1 : a->kids[i][1];
    }
    UNLOCK(&a->lock);
    return status;
}

int32_t mg_kids(mg_arena *a, int32_t i, int32_t *out, int32_t cap)
{
    LOCK(&a->lock);
    int32_t n = -MG_EINDEX;
    if (mg_alive(a, i) && (cap <= 0 || out)) {
        const int32_t *k;
        n = children(a, i, &k);
        for (int32_t j = 0; j < n && j < cap; j++)
            out[j] = k[j];
    }
    UNLOCK(&a->lock);
    return n;
}

int mg_zero_grad(mg_arena *a, const int32_t *idx, int32_t n)
{
    LOCK(&a->lock);
    int status = MG_OK;
    for (int32_t k = 0; k < n; k++)
        if (!mg_alive(a, idx[k]))
            status = MG_EINDEX;
    for (int32_t k = 0; k < n && status == MG_OK; k++)
        zero_grad(a, idx[k]);
    UNLOCK(&a->lock);
    return status;
}
