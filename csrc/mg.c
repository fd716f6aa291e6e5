/* mg.c: the micrograd engine: an arena of scalar nodes, the forward rule of each
 * op, reference counting, and backward.
 *
 * Not here: anything about Python. Every function returns a status instead of
 * printing or aborting; Python turns statuses into exceptions.
 * Floating point: formulas and their order of operations are micrograd 0.1.0's
 * (engine.py) so that forward data is bit-identical; build without
 * -ffast-math and with -ffp-contract=off so the compiler keeps them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <assert.h>
#include "arena.h"

#define NODE_BYTES (2 * sizeof(uint8_t) + 5 * sizeof(int32_t) + 3 * sizeof(double))

/* flag bit of a node reached by the first pass of the running mg_backward; never
 * set between calls (not one of mg.h's MG_*_INT bits: Python never sees it) */
#define SEEN 16

static const char *const op_names[] = {
    "", "+", "*", "**", "ReLU", "tanh", "exp", "log", "sigmoid", "**",
};
_Static_assert(sizeof op_names / sizeof *op_names == MG_OP_COUNT, "one name per op");

static const int8_t arity[] = { 0, 2, 2, 1, 1, 1, 1, 1, 1, 2 };
_Static_assert(sizeof arity / sizeof *arity == MG_OP_COUNT, "one arity per op");

static const char *const messages[] = {
    "ok",
    "out of memory",
    "no such node",
    "0.0 cannot be raised to a negative power",
    "math range error",
    "math domain error",
    "negative number cannot be raised to a fractional power",
    "unknown op",
};
_Static_assert(sizeof messages / sizeof *messages == MG_STATUS_COUNT, "one message per status");

int mg_abi_version(void) { return MG_ABI_VERSION; }

const char *mg_strerror(int status)
{
    return status >= 0 && status < MG_STATUS_COUNT ? messages[status] : "unknown error";
}

const char *mg_op_name(int op)
{
    return op >= 0 && op < MG_OP_COUNT ? op_names[op] : "?";
}

/* ---------------------------------------------------------------- arena */

/* Allocate every array at the new capacity, copy, and swap only when all
 * allocations succeeded: MG_ENOMEM leaves the graph as it was. */
static int grow(mg_arena *a, int32_t cap)
{
    mg_arena n = { 0 };    /* only its arrays are used: never copy the lock */
    n.op = malloc((size_t)cap);
    n.flags = malloc((size_t)cap);
    n.kids = malloc((size_t)cap * sizeof *n.kids);
    n.refs = malloc((size_t)cap * sizeof(int32_t));
    n.order = malloc((size_t)cap * sizeof(int32_t));
    n.stack = malloc((size_t)cap * sizeof(int32_t));
    n.arg = malloc((size_t)cap * sizeof(double));
    n.data = malloc((size_t)cap * sizeof(double));
    n.grad = malloc((size_t)cap * sizeof(double));
    if (!n.op || !n.flags || !n.kids || !n.refs || !n.order || !n.stack
            || !n.arg || !n.data || !n.grad) {
        free(n.op); free(n.flags); free(n.kids); free(n.refs);
        free(n.order); free(n.stack); free(n.arg); free(n.data); free(n.grad);
        return MG_ENOMEM;
    }
    /* Write the scratch arrays now so that their pages are mapped here rather than
     * by page faults in the first backward (a fifth of its time on 200k nodes).
     * Not with zeros: compilers turn malloc + memset(0) into calloc, which maps nothing. */
    memset(n.order, 0xff, (size_t)cap * sizeof(int32_t));
    memset(n.stack, 0xff, (size_t)cap * sizeof(int32_t));
    size_t k = (size_t)a->len;
    if (k) {
        memcpy(n.op, a->op, k);
        memcpy(n.flags, a->flags, k);
        memcpy(n.kids, a->kids, k * sizeof *n.kids);
        memcpy(n.refs, a->refs, k * sizeof(int32_t));
        memcpy(n.arg, a->arg, k * sizeof(double));
        memcpy(n.data, a->data, k * sizeof(double));
        memcpy(n.grad, a->grad, k * sizeof(double));
    }
    free(a->op); free(a->flags); free(a->kids); free(a->refs);
    free(a->order); free(a->stack); free(a->arg); free(a->data); free(a->grad);
    /* Swap the arrays one by one. `*a = n` would also write back a stale copy of
     * the lock word, and a thread waiting on the lock would never be woken. */
    a->op = n.op; a->flags = n.flags; a->kids = n.kids; a->refs = n.refs;
    a->order = n.order; a->stack = n.stack; a->arg = n.arg; a->data = n.data; a->grad = n.grad;
    a->cap = cap;
    return MG_OK;
}

mg_arena *mg_arena_new(int32_t cap)
{
    mg_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->max_cap = INT32_MAX;
    a->free_head = -1;
    if (grow(a, cap > 16 ? cap : 16) != MG_OK) {
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
    free(a->op); free(a->flags); free(a->kids); free(a->refs);
    free(a->order); free(a->stack); free(a->arg); free(a->data); free(a->grad);
    free(a);
}

void mg_arena_stats(mg_arena *a, mg_stats *out)
{
    LOCK(&a->lock);
    out->live = a->live;
    out->cap = a->cap;
    out->bytes_per_node = (int64_t)NODE_BYTES;
    out->bytes = (int64_t)a->cap * (int64_t)NODE_BYTES;
    UNLOCK(&a->lock);
}

int mg_arena_limit(mg_arena *a, int32_t max_cap)
{
    if (max_cap < 1)
        return MG_ERANGE;
    LOCK(&a->lock);
    a->max_cap = max_cap;
    UNLOCK(&a->lock);
    return MG_OK;
}

/* A free slot if there is one, else a new one, doubling the arena when full. */
static int take_slot(mg_arena *a, int32_t *out)
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

/* ---------------------------------------------------------------- forward */

/* x ** e as Python's float.__pow__ computes it, with its errors as statuses;
 * where Python would return a complex number we report MG_ECOMPLEX. */
static int pow_checked(double x, double e, double *out)
{
    if (x == 0 && e < 0 && isfinite(e))
        return MG_EZERODIV;
    if (x < 0 && isfinite(x) && isfinite(e) && e != floor(e))
        return MG_ECOMPLEX;
    *out = pow(x, e);
    if (isinf(*out) && isfinite(x) && isfinite(e))
        return MG_ERANGE;
    return MG_OK;
}

/* In micrograd a result is a Python int when int arithmetic produced it. */
static int pow_is_int(int base_int, double e, int e_int)
{
    return base_int && e_int && e >= 0;
}

/* The forward rule of every op: the data and int flag of a node from its
 * children. The only place where an op's value is defined. */
static int forward(const mg_arena *a, int op, int32_t l, int32_t r, double arg, int arg_int,
                   double *out, int *is_int)
{
    double x = l >= 0 ? a->data[l] : 0, y = r >= 0 ? a->data[r] : 0;
    int xi = l >= 0 && (a->flags[l] & MG_DATA_INT), yi = r >= 0 && (a->flags[r] & MG_DATA_INT);
    *is_int = 0;
    switch ((mg_op)op) {
    case MG_LEAF:    *out = arg; *is_int = arg_int; return MG_OK;
    case MG_ADD:     *out = x + y; *is_int = xi && yi; return MG_OK;
    case MG_MUL:     *out = x * y; *is_int = xi && yi; return MG_OK;
    case MG_POW:     *is_int = pow_is_int(xi, arg, arg_int); return pow_checked(x, arg, out);
    case MG_RELU:    *out = x < 0 ? 0 : x; *is_int = x < 0 || xi; return MG_OK;  /* 0 if self.data < 0 else self.data */
    case MG_TANH:    *out = tanh(x); return MG_OK;
    case MG_EXP:     *out = exp(x); return isinf(*out) && isfinite(x) ? MG_ERANGE : MG_OK;
    case MG_LOG:     *out = log(x); return x <= 0 ? MG_EDOMAIN : MG_OK;   /* as math.log */
    case MG_SIGMOID: *out = x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); return MG_OK;
    case MG_POWV:    *is_int = pow_is_int(xi, y, yi); return pow_checked(x, y, out);
    case MG_OP_COUNT: break;
    }
    return MG_EOP;
}

/* A new node from op and its children, with one reference for the caller.
 * Nothing changes unless it succeeds. The lock is held by the caller. */
static int push(mg_arena *a, int op, int32_t lhs, int32_t rhs, double arg, int arg_is_int,
                int32_t *out)
{
    if (op < 0 || op >= MG_OP_COUNT)
        return MG_EOP;
    int n = arity[op], is_int = 0;
    double data = 0;
    if (n < 1) lhs = -1;
    if (n < 2) rhs = -1;
    if ((n >= 1 && !mg_alive(a, lhs)) || (n >= 2 && !mg_alive(a, rhs)))
        return MG_EINDEX;
    int status = forward(a, op, lhs, rhs, arg, arg_is_int, &data, &is_int);
    if (status == MG_OK && is_int && !isfinite(data))
        status = MG_ERANGE;     /* an int too large for a float: OverflowError, as float() */
    int32_t i = -1;
    if (status == MG_OK)
        status = take_slot(a, &i);
    if (status != MG_OK)
        return status;
    if (is_int && data == 0)
        data = 0;                         /* nor -0: 0 * -3 is 0 in Python, not -0.0 */
    a->op[i] = (uint8_t)op;
    a->flags[i] = (uint8_t)((is_int ? MG_DATA_INT : 0) | MG_GRAD_INT | (arg_is_int ? MG_ARG_INT : 0));
    a->kids[i][0] = lhs;
    a->kids[i][1] = rhs;
    a->refs[i] = 1;
    a->arg[i] = op == MG_LEAF ? 0 : arg;
    a->data[i] = data;
    a->grad[i] = 0;
    if (lhs >= 0) a->refs[lhs]++;
    if (rhs >= 0) a->refs[rhs]++;
    a->live++;
    *out = i;
    return MG_OK;
}

static void drop(mg_arena *a, int32_t i);

int32_t mg_push(mg_arena *a, int op, int32_t lhs, int32_t rhs, double arg, int arg_is_int)
{
    int32_t i = -1, leaf = -1;
    int status = MG_OK;
    LOCK(&a->lock);
    if (rhs == MG_CONST) {          /* micrograd's `other if isinstance(other, Value) else Value(other)` */
        status = push(a, MG_LEAF, -1, -1, arg, arg_is_int, &leaf);
        rhs = leaf;
        arg = 0;
        arg_is_int = 0;
    }
    if (status == MG_OK)
        status = push(a, op, lhs, rhs, arg, arg_is_int, &i);
    if (leaf >= 0)
        drop(a, leaf);              /* now held by the new node, or by nothing */
    UNLOCK(&a->lock);
    return status == MG_OK ? i : -status;
}

/* sum((w[k] * x[k] for k in range(n)), start), node for node as micrograd builds
 * it: product k is MUL(w[k], x[k]), sum k is ADD(sum k-1, product k). With
 * x == NULL, x[k] is a new leaf holding c[k] (a Python float). Only the last sum
 * keeps a reference for the caller; on failure every node made is freed. */
int32_t mg_dot(mg_arena *a, int32_t start, const int32_t *w, const int32_t *x,
               const double *c, int32_t n)
{
    int32_t acc = start, prod = -1, leaf = -1;
    int status = MG_OK;
    LOCK(&a->lock);
    if (!mg_alive(a, start) || n < 0 || (n > 0 && (!w || (!x && !c))))
        status = MG_EINDEX;
    else
        a->refs[start]++;           /* the chain's own hold on its first node */
    for (int32_t k = 0; k < n && status == MG_OK; k++) {
        int32_t sum = -1;
        if (!x)
            status = push(a, MG_LEAF, -1, -1, c[k], 0, &leaf);
        if (status == MG_OK)
            status = push(a, MG_MUL, w[k], x ? x[k] : leaf, 0, 0, &prod);
        if (leaf >= 0)
            drop(a, leaf);          /* held by prod now, or by nothing */
        if (status == MG_OK)
            status = push(a, MG_ADD, acc, prod, 0, 0, &sum);
        if (prod >= 0)
            drop(a, prod);          /* held by sum now, or by nothing */
        drop(a, acc);               /* likewise */
        acc = sum;
        leaf = prod = -1;
    }
    UNLOCK(&a->lock);
    return status == MG_OK ? acc : -status;
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
static void drop(mg_arena *a, int32_t i)
{
    int32_t top = 0;
    if (--a->refs[i] == 0)
        a->stack[top++] = i;
    while (top > 0) {
        int32_t j = a->stack[--top], kids[2] = { a->kids[j][0], a->kids[j][1] };
        for (int c = 0; c < 2; c++)
            if (kids[c] >= 0 && --a->refs[kids[c]] == 0)
                a->stack[top++] = kids[c];
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

static void set_flag(uint8_t *flags, int bit, int on)
{
    *flags = (uint8_t)(on ? (*flags | bit) : (*flags & ~bit));
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
        default: status = MG_EINDEX;
        }
    }
    UNLOCK(&a->lock);
    return status;
}

int mg_node(mg_arena *a, int32_t i, int *op, int32_t *lhs, int32_t *rhs)
{
    LOCK(&a->lock);
    int status = mg_alive(a, i) ? MG_OK : MG_EINDEX;
    if (status == MG_OK) {
        *op = a->op[i];
        *lhs = a->kids[i][0];
        *rhs = a->kids[i][1];
    }
    UNLOCK(&a->lock);
    return status;
}

int mg_zero_grad(mg_arena *a, const int32_t *idx, int32_t n)
{
    LOCK(&a->lock);
    int status = MG_OK;
    for (int32_t k = 0; k < n; k++)
        if (!mg_alive(a, idx[k]))
            status = MG_EINDEX;
    for (int32_t k = 0; k < n && status == MG_OK; k++) {
        a->grad[idx[k]] = 0;
        a->flags[idx[k]] |= MG_GRAD_INT;
    }
    UNLOCK(&a->lock);
    return status;
}

/* ---------------------------------------------------------------- backward */

/* x ** y for the gradients, the two commonest cases without libm: pow(x, 1) is
 * exactly x; x * x is correctly rounded, and pow(x, 2) is within 0.52 ulp of
 * it in glibc (grads are compared with a tolerance; forward data still uses pow). */
static double pow1(double x, double y)
{
    return y == 1 ? x : y == 2 ? x * x : pow(x, y);
}

/* child.grad += v, where v is a Python int in micrograd only if is_int */
static void acc(mg_arena *a, int32_t c, double v, int is_int)
{
    a->grad[c] += v;
    if (!is_int || !isfinite(a->grad[c]))
        a->flags[c] &= (uint8_t)~MG_GRAD_INT;
}

/* The backward rule of every op, computed from current data as micrograd does. */
static void backward_node(mg_arena *a, int32_t i)
{
    int32_t l = a->kids[i][0], r = a->kids[i][1];
    double g = a->grad[i];
    int gi = (a->flags[i] & MG_GRAD_INT) != 0;
#define DI(j) ((a->flags[j] & MG_DATA_INT) != 0)
    switch ((mg_op)a->op[i]) {
    case MG_LEAF:
        break;
    case MG_ADD:        /* self.grad += out.grad; other.grad += out.grad */
        acc(a, l, g, gi);
        acc(a, r, g, gi);
        break;
    case MG_MUL:        /* self.grad += other.data * out.grad, and the mirror image */
        acc(a, l, a->data[r] * g, DI(r) && gi);
        acc(a, r, a->data[l] * g, DI(l) && gi);
        break;
    case MG_POW: {      /* self.grad += (other * self.data**(other-1)) * out.grad */
        double e = a->arg[i];
        acc(a, l, e == 0 ? 0 : (e * pow1(a->data[l], e - 1)) * g,  /* d x**0/dx = 0 */
            pow_is_int(DI(l), e - 1, a->flags[i] & MG_ARG_INT) && gi);
        break;
    }
    case MG_RELU:       /* self.grad += (out.data > 0) * out.grad */
        acc(a, l, (a->data[i] > 0) * g, gi);
        break;
    case MG_TANH:       /* self.grad += (1 - t**2) * out.grad */
        acc(a, l, (1 - pow1(a->data[i], 2)) * g, 0);
        break;
    case MG_EXP:        /* self.grad += out.data * out.grad */
        acc(a, l, a->data[i] * g, 0);
        break;
    case MG_LOG:        /* self.grad += out.grad / self.data */
        acc(a, l, g / a->data[l], 0);
        break;
    case MG_SIGMOID:    /* self.grad += s * (1 - s) * out.grad */
        acc(a, l, a->data[i] * (1 - a->data[i]) * g, 0);
        break;
    case MG_POWV: {     /* as MG_POW for the base; out * log(base) for the exponent,
                           0 where base == 0 and exponent >= 0 (as PyTorch) */
        double x = a->data[l], y = a->data[r];
        acc(a, l, y == 0 ? 0 : (y * pow1(x, y - 1)) * g, pow_is_int(DI(l), y - 1, DI(r)) && gi);
        acc(a, r, x == 0 && y >= 0 ? 0 : a->data[i] * log(x) * g, 0);
        break;
    }
    case MG_OP_COUNT:
        assert(0);
        break;
    }
#undef DI
}

/* micrograd's reversed topological sort, without recursion.
 * Pass 1 walks depth-first from root: stack holds the path from root, a node is
 * SEEN from when it is put on the path, and it leaves the path for order once its
 * children are in order (post-order). So order lists every reachable node after
 * its children, each once. It also resets the grads of the non-leaf nodes.
 * Pass 2 runs the ops' backward rules in reverse order, parents before children:
 * a node's grad is complete before it is passed on. Reading the nodes from an
 * array, not from a stack fed by the previous node, lets the CPU overlap their
 * cache misses (twice as fast as Kahn's algorithm here on a 200k-node graph).
 * Only nodes reachable from root are touched. */
int mg_backward(mg_arena *a, int32_t root)
{
    LOCK(&a->lock);
    if (!mg_alive(a, root)) {
        UNLOCK(&a->lock);
        return MG_EINDEX;
    }
    int32_t top = 0, n = 0, *stack = a->stack, *order = a->order;
    a->flags[root] |= SEEN;
    stack[top++] = root;
    while (top > 0) {
        int32_t i = stack[top - 1], l = a->kids[i][0], r = a->kids[i][1];
        if (l >= 0 && !(a->flags[l] & SEEN)) {
            a->flags[l] |= SEEN;
            stack[top++] = l;
        } else if (r >= 0 && !(a->flags[r] & SEEN)) {
            a->flags[r] |= SEEN;
            stack[top++] = r;
        } else {
            top--;
            order[n++] = i;
            if (l >= 0) {           /* not a leaf */
                a->grad[i] = 0;
                a->flags[i] |= MG_GRAD_INT;
            }
        }
    }
    a->grad[root] += 1;     /* self.grad = 1 */
    for (int32_t k = n - 1; k >= 0; k--) {
        a->flags[order[k]] &= (uint8_t)~SEEN;
        backward_node(a, order[k]);
    }
    UNLOCK(&a->lock);
    return MG_OK;
}
