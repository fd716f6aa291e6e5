/* build.c: making nodes: push (one op, its data computed at once), leaves, dot;
 * and Python's arena (mg_use), whose hot calls are pushes and reads.
 *
 * Not here: an op's math (rules.h, through eval.h's evaluate), slots and release
 * (arena.c). Every call changes nothing unless it succeeds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "eval.h"

/* ---------------------------------------------------------------- push */

/* whether a dot's weights k[1], k[3], ... are consecutive nodes */
static int weights_in_run(const int32_t *k, int32_t n)
{
    for (int32_t j = 3; j < n; j += 2)
        if (k[j] != k[j - 2] + 1)
            return 0;
    return n >= 3;
}

/* Slot i becomes the node op(k[0..n)) with its computed data, one reference for
 * the caller, and one on each child; edges have room for an n-ary node's children.
 * It has MG_PYTHON if it is an MG_PY node or any child has it. */
static void make_node(mg_arena *a, int32_t i, int op, const int32_t *k, int32_t n, double arg,
                      int arg_is_int, double data, int is_int)
{
    int python = op == MG_PY;
    for (int32_t j = 0; j < n; j++)
        python |= a->flags[k[j]] & MG_PYTHON;
    a->op[i] = (uint8_t)op;
    a->flags[i] = (uint8_t)((is_int ? MG_DATA_INT : 0) | MG_GRAD_INT | (arg_is_int ? MG_ARG_INT : 0)
                            | (op == MG_DOT && weights_in_run(k, n) ? RUN : 0)
                            | (python ? MG_PYTHON : 0));
    if (arity[op] == NARY) {
        if (n > 0)              /* an MG_PY node may have none (k NULL) */
            memcpy(a->edges + a->edges_len, k, (size_t)n * sizeof *k);
        a->kids[i][0] = EDGES_AT((int32_t)a->edges_len);
        a->kids[i][1] = n;
        a->edges_len += n;
    } else {
        a->kids[i][0] = n > 0 ? k[0] : -1;
        a->kids[i][1] = n > 1 ? k[1] : -1;
    }
    for (int32_t j = 0; j < n; j++)
        a->refs[k[j]]++;
    a->refs[i] = 1;
    a->arg[i] = op == MG_LEAF ? 0 : arg;
    a->data[i] = data;
    a->grad[i] = 0;
    a->live++;
}

/* A new node op(k[0..n)), with one reference for the caller, holding one on
 * each child. Nothing changes unless it succeeds. The lock is held by the caller. */
static int push(mg_arena *a, int op, const int32_t *k, int32_t n, double arg, int arg_is_int,
                int32_t *out)
{
    if (op < 0 || op >= MG_OP_COUNT)
        return MG_EOP;
    int nary = arity[op] == NARY;
    if (nary ? n < (op == MG_PY ? 0 : op == MG_PICK ? 2 : 1) || (op == MG_DOT && n % 2 == 0)
             : n != arity[op])
        return MG_EINDEX;       /* n-ary: one child at least (MG_PY: any; a pick: the index and
                                   a value); a dot: start and pairs */
    for (int32_t j = 0; j < n; j++)
        if (!mg_alive(a, k[j]))
            return MG_EINDEX;
    /* an MG_PY node's data is given, as a leaf's */
    mg_result r = evaluate(a, op == MG_PY ? MG_LEAF : op, k, n, number(arg, arg_is_int));
    if (op == MG_PY) {
        arg = 0;
        arg_is_int = 0;
    }
    int status = r.status;
    if (status == MG_OK && nary)
        status = reserve_edges(a, n);
    int32_t i = -1;
    if (status == MG_OK)
        status = take_slot(a, &i);
    if (status != MG_OK)
        return status;
    make_node(a, i, op, k, n, arg, arg_is_int, r.value, r.is_int);
    *out = i;
    return MG_OK;
}

/* what the API returns for new node i: its index, with MG_PYTHON_INDEX if it has
 * MG_PYTHON; or minus the status */
static int32_t api_index(const mg_arena *a, int status, int32_t i)
{
    if (status != MG_OK)
        return -status;
    return a->flags[i] & MG_PYTHON ? i | MG_PYTHON_INDEX : i;
}

int32_t mg_push(mg_arena *a, int op, int32_t lhs, int32_t rhs, double arg, int arg_is_int)
{
    int32_t i = -1, leaf = -1;
    int status = MG_OK;
    LOCK(&a->lock);
    if (op < 0 || op >= MG_OP_COUNT || arity[op] == NARY)
        status = MG_EOP;
    else if (rhs == MG_CONST && !mg_alive(a, lhs))
        status = MG_EINDEX;         /* before the constant can take a freed lhs's slot */
    else if (rhs == MG_CONST && arity[op] == 2) {   /* micrograd's `other if isinstance(other, Value) else Value(other)` */
        status = push(a, MG_LEAF, NULL, 0, arg, arg_is_int, &leaf);
        rhs = leaf;
        arg = 0;
        arg_is_int = 0;
    }
    int32_t k[2] = { lhs, rhs };
    if (status == MG_OK)
        status = push(a, op, k, arity[op], arg, arg_is_int, &i);
    if (leaf >= 0)
        drop(a, leaf);              /* now held by the new node, or by nothing */
    i = api_index(a, status, i);
    UNLOCK(&a->lock);
    return i;
}

int32_t mg_push_n(mg_arena *a, int op, const int32_t *kids, int32_t n)
{
    int32_t i = -1;
    LOCK(&a->lock);
    int status = op < 0 || op >= MG_OP_COUNT || arity[op] != NARY ? MG_EOP
               : n > 0 && !kids ? MG_EINDEX
               : push(a, op, kids, n, 0, 0, &i);
    i = api_index(a, status, i);
    UNLOCK(&a->lock);
    return i;
}

int32_t mg_push_py(mg_arena *a, const int32_t *kids, int32_t n, double data, int is_int)
{
    int32_t i = -1;
    LOCK(&a->lock);
    int status = n > 0 && !kids ? MG_EINDEX : push(a, MG_PY, kids, n, data, is_int, &i);
    i = api_index(a, status, i);
    UNLOCK(&a->lock);
    return i;
}

/* ---------------------------------------------------------------- leaves */

int32_t mg_leaves(mg_arena *a, const double *values, const uint8_t *is_int, int32_t n)
{
    LOCK(&a->lock);
    int status = n < 0 || (n > 0 && !values) ? MG_EINDEX : MG_OK;
    int64_t need = (int64_t)a->len + (n > 0 ? n : 0), cap = a->cap;
    while (status == MG_OK && cap < need)
        cap *= 2;
    if (status == MG_OK && need > a->max_cap)
        status = MG_ENOMEM;
    else if (status == MG_OK && cap > a->cap)
        status = grow(a, cap > a->max_cap ? a->max_cap : (int32_t)cap);
    for (int32_t j = 0; j < n && status == MG_OK; j++)     /* every value checked first */
        status = evaluate(a, MG_LEAF, NULL, 0, number(values[j], is_int && is_int[j])).status;
    int32_t first = a->len;
    for (int32_t j = 0; j < n && status == MG_OK; j++) {   /* at the end, not in free slots */
        int leaf_int = is_int && is_int[j];
        mg_result r = evaluate(a, MG_LEAF, NULL, 0, number(values[j], leaf_int));
        make_node(a, a->len++, MG_LEAF, NULL, 0, values[j], leaf_int, r.value, r.is_int);
    }
    UNLOCK(&a->lock);
    return status == MG_OK ? first : -status;
}

/* ---------------------------------------------------------------- dot */

/* sum((w[k] * x[k] for k in range(n)), start), node for node as micrograd builds
 * it: product k is MUL(w[k], x[k]), sum k is ADD(sum k-1, product k). With
 * x == NULL, x[k] is a new leaf holding c[k] (a Python float). Only the last sum
 * keeps a reference for the caller; on failure every node made is freed. */
static int dot_chain(mg_arena *a, int32_t start, const int32_t *w, const int32_t *x,
                     const double *c, int32_t n, int32_t *out)
{
    int32_t sum = start, prod = -1, leaf = -1;      /* sum: the last sum made */
    int status = MG_OK;
    a->refs[start]++;               /* the chain's own hold on its first node */
    for (int32_t k = 0; k < n && status == MG_OK; k++) {
        int32_t next = -1;
        if (!x)
            status = push(a, MG_LEAF, NULL, 0, c[k], 0, &leaf);
        int32_t mul[2] = { w[k], x ? x[k] : leaf };
        if (status == MG_OK)
            status = push(a, MG_MUL, mul, 2, 0, 0, &prod);
        if (leaf >= 0)
            drop(a, leaf);          /* held by prod now, or by nothing */
        int32_t add[2] = { sum, prod };
        if (status == MG_OK)
            status = push(a, MG_ADD, add, 2, 0, 0, &next);
        if (prod >= 0)
            drop(a, prod);          /* held by next now, or by nothing */
        drop(a, sum);               /* likewise */
        sum = next;
        leaf = prod = -1;
    }
    *out = sum;
    return status;
}
/* The same sum as one MG_DOT node over start, w[0], x[0], w[1], x[1], ... */
static int dot_fused(mg_arena *a, int32_t start, const int32_t *w, const int32_t *x,
                     const double *c, int32_t n, int32_t *out)
{
    int32_t *k = malloc((size_t)(2 * (int64_t)n + 1) * sizeof *k), made = 0;
    if (!k)
        return MG_ENOMEM;
    int status = MG_OK;
    k[0] = start;
    for (int32_t j = 0; j < n && status == MG_OK; j++) {
        k[2 * j + 1] = w[j];
        if (x)
            k[2 * j + 2] = x[j];
        else if ((status = push(a, MG_LEAF, NULL, 0, c[j], 0, &k[2 * j + 2])) == MG_OK)
            made = j + 1;
    }
    if (status == MG_OK)
        status = push(a, MG_DOT, k, 2 * n + 1, 0, 0, out);
    for (int32_t j = 0; j < made; j++)
        drop(a, k[2 * j + 2]);      /* the constants: held by the new node, or by nothing */
    free(k);
    return status;
}

/* every operand of a dot live, checked before any constant takes a free slot
 * (which may be the slot of a freed operand) */
static int dot_operands(const mg_arena *a, int32_t start, const int32_t *w, const int32_t *x,
                        const double *c, int32_t n)
{
    if (!mg_alive(a, start) || n < 0 || (n > 0 && (!w || (!x && !c))))
        return MG_EINDEX;
    for (int32_t j = 0; j < n; j++)
        if (!mg_alive(a, w[j]) || (x && !mg_alive(a, x[j])))
            return MG_EINDEX;
    return MG_OK;
}

int32_t mg_dot(mg_arena *a, int32_t start, const int32_t *w, const int32_t *x,
               const double *c, int32_t n, int fused)
{
    int32_t out = -1;
    LOCK(&a->lock);
    int status = dot_operands(a, start, w, x, c, n);
    if (status == MG_OK && n == 0) {
        a->refs[start]++;           /* the sum of nothing is start itself */
        out = start;
    } else if (status == MG_OK) {
        status = (fused ? dot_fused : dot_chain)(a, start, w, x, c, n, &out);
    }
    out = api_index(a, status, out);
    UNLOCK(&a->lock);
    return out;
}


/* ---------------------------------------------------------------- Python's arena */

static mg_arena *python_arena;      /* micrograd.engine's one arena, given by mg_use */

void mg_use(mg_arena *a) { python_arena = a; }

int32_t mg_use_push(int op, int32_t lhs, int32_t rhs, double arg, int arg_is_int)
{
    return python_arena ? mg_push(python_arena, op, lhs, rhs, arg, arg_is_int) : -MG_EINDEX;
}

double mg_use_value(int32_t i, int field)
{
    return python_arena ? mg_value(python_arena, i, field) : NAN;
}

int mg_use_is_int(int32_t i, int field) { return python_arena && mg_is_int(python_arena, i, field); }

int mg_use_set(int32_t i, int field, double value, int is_int)
{
    return python_arena ? mg_set(python_arena, i, field, value, is_int) : MG_EINDEX;
}

int mg_use_release(const int32_t *idx, int32_t n)
{
    return python_arena ? mg_release(python_arena, idx, n) : MG_EINDEX;
}
