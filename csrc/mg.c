/* mg.c: the micrograd engine: an arena of scalar nodes, the forward rule of each
 * op, reference counting, topological order, backward and replay (forward).
 *
 * Not here: anything of Python's own (no Python.h). Python's side shows only as
 * data: MG_PY nodes and the MG_PYTHON flag, which tell where Python code lies in a
 * graph, and the arena Python uses (mg_use). Every function returns a status
 * instead of printing or aborting; Python turns statuses into exceptions.
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

/* flag bits never seen by Python (not mg.h's MG_*_INT bits): SEEN marks a node
 * reached by the running topological walk, never set between calls; PLANNED a
 * node that is the root of a kept order; RUN an MG_DOT node whose weights are
 * consecutive nodes (w[j] is w[0] + j: their data and grads are contiguous) */
#define SEEN 16
#define PLANNED 32
#define RUN 64

static const char *const op_names[] = {
    "", "+", "*", "**", "ReLU", "tanh", "exp", "log", "sigmoid", "**", "dot", "logsumexp",
    "python",
};
_Static_assert(sizeof op_names / sizeof *op_names == MG_OP_COUNT, "one name per op");

#define NARY -1     /* children in the edges array, any number of them */
/* An n-ary node's kids[i][0] is -2 - the offset of its children in edges, so that
 * a pass over nodes of two children at most sees no child there (< 0), and -1
 * still means a leaf. EDGES_AT converts both ways. */
#define EDGES_AT(x) (-2 - (x))
static const int8_t arity[] = { 0, 2, 2, 1, 1, 1, 1, 1, 1, 2, NARY, NARY, NARY };
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
    "an op defined in Python",
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

static const int8_t kinds[] = {
    MG_KIND_LEAF, MG_KIND_INFIX, MG_KIND_INFIX, MG_KIND_INFIX, MG_KIND_CALL, MG_KIND_CALL,
    MG_KIND_CALL, MG_KIND_CALL, MG_KIND_CALL, MG_KIND_INFIX, MG_KIND_NARY, MG_KIND_NARY,
    MG_KIND_PYTHON,
};
_Static_assert(sizeof kinds / sizeof *kinds == MG_OP_COUNT, "one kind per op");

int mg_op_arity(int op) { return op >= 0 && op < MG_OP_COUNT ? arity[op] : -2; }
int mg_op_kind(int op) { return op >= 0 && op < MG_OP_COUNT ? kinds[op] : -1; }

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
        free(n.op); free(n.flags); free(n.kids); free(n.refs); free(n.order);
        free(n.stack); free(n.arg); free(n.data); free(n.grad);
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
    free(a->op); free(a->flags); free(a->kids); free(a->refs); free(a->order);
    free(a->stack); free(a->arg); free(a->data); free(a->grad);
    /* Swap the arrays one by one. `*a = n` would also write back a stale copy of
     * the lock word, and a thread waiting on the lock would never be woken. */
    a->op = n.op; a->flags = n.flags; a->kids = n.kids; a->refs = n.refs; a->order = n.order;
    a->stack = n.stack; a->arg = n.arg; a->data = n.data; a->grad = n.grad;
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
    free(a->op); free(a->flags); free(a->kids); free(a->refs); free(a->order);
    free(a->stack); free(a->arg); free(a->data); free(a->grad);
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

/* node i's children: a pointer to them and their count (valid until the next
 * allocation in the arena) */
static int32_t children(const mg_arena *a, int32_t i, const int32_t **out)
{
    int n = arity[a->op[i]];
    if (n == NARY) {
        *out = a->edges + EDGES_AT(a->kids[i][0]);
        return a->kids[i][1];
    }
    *out = a->kids[i];
    return n;
}

/* Room for n more edges. When the array is full, copy the live ranges of
 * every n-ary node into a new array (in node order) with at least half of it
 * free, plus a quarter of the node count: a compaction is paid by the edges
 * appended before the next. All or nothing, like grow(). */
static int reserve_edges(mg_arena *a, int64_t n)
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

#define DI(j) ((a->flags[j] & MG_DATA_INT) != 0)

/* Flags of a run of nodes (a neuron's weights), eight bytes at a time. */
#define BYTES8(bit) (0x0101010101010101ULL * (bit))

static int any_flag(const uint8_t *f, int32_t n, int bit)
{
    uint64_t any = 0, w;
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        memcpy(&w, f + j, 8);
        any |= w;
    }
    for (; j < n; j++)
        any |= f[j];
    return (any & BYTES8(bit)) != 0;
}

static void clear_flag(uint8_t *f, int32_t n, int bit)
{
    uint64_t w;
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        memcpy(&w, f + j, 8);
        w &= ~BYTES8(bit);
        memcpy(f + j, &w, 8);
    }
    for (; j < n; j++)
        f[j] &= (uint8_t)~bit;
}

/* b + w0*x0 + w1*x1 + ...: micrograd's chain of `*` and `+` nodes, in its order,
 * with the int flag and the OverflowError each of those nodes would have. The
 * sums stay ints only while every product is one. */
static int dot_forward(const mg_arena *a, const int32_t *k, int32_t n, double *out, int *is_int)
{
    const double *data = a->data;
    const uint8_t *flags = a->flags;
    double s = data[k[0]];
    int si = DI(k[0]);
    for (int32_t j = 1; j + 1 < n; j += 2) {
        double p = data[k[j]] * data[k[j + 1]];
        if (flags[k[j]] & flags[k[j + 1]] & MG_DATA_INT) {  /* an int product: finite, never -0 */
            if (!isfinite(p))
                return MG_ERANGE;
            p += 0.0;
            s = s + p;
            if (si && !isfinite(s))
                return MG_ERANGE;
        } else {
            s = s + p;
            si = 0;
        }
    }
    *out = s;
    *is_int = si;
    return MG_OK;
}

/* A group: GROUP MG_DOT nodes of one level (so independent of each other) with
 * weights in runs, the same inputs, and no input among the weights: the
 * neurons of a layer for one example. Replay and backward take a group at once,
 * loading each input once and keeping GROUP sums in flight instead of waiting
 * on one. Whether nodes form a group is fixed when the plan is made. */
#define GROUP 4

static int is_group(const mg_arena *a, const int32_t *nodes)
{
    const int32_t *k[GROUP];
    int32_t n = 0, lo[GROUP], hi[GROUP];
    for (int q = 0; q < GROUP; q++) {
        int32_t i = nodes[q];
        if (a->op[i] != MG_DOT || !(a->flags[i] & RUN))
            return 0;
        int32_t nk = children(a, i, &k[q]);
        if (q > 0 && nk != n)
            return 0;
        n = nk;
        lo[q] = k[q][1];
        hi[q] = lo[q] + (n - 1) / 2;
    }
    for (int q = 0; q < GROUP; q++)
        for (int r = q + 1; r < GROUP; r++)
            if (lo[q] < hi[r] && lo[r] < hi[q])
                return 0;       /* two runs of weights overlap */
    for (int32_t e = 2; e < n; e += 2)
        for (int q = 0; q < GROUP; q++)
            if (k[q][e] != k[0][e] || (k[0][e] >= lo[q] && k[0][e] < hi[q]))
                return 0;       /* other inputs, or an input among the weights */
    return 1;
}

/* the sums of a group, each in micrograd's order; returns 0, having written
 * nothing, if a weight is an int (then dot_forward's checks are needed): with
 * float weights every product is a float, so every sum is one */
static int group_forward(mg_arena *a, const int32_t *nodes)
{
    double *data = a->data;
    uint8_t *flags = a->flags;
    const int32_t *k0, *k1, *k2, *k3;
    int32_t n = children(a, nodes[0], &k0);
    children(a, nodes[1], &k1);
    children(a, nodes[2], &k2);
    children(a, nodes[3], &k3);
    if (any_flag(flags + k0[1], n / 2, MG_DATA_INT) || any_flag(flags + k1[1], n / 2, MG_DATA_INT)
            || any_flag(flags + k2[1], n / 2, MG_DATA_INT) || any_flag(flags + k3[1], n / 2, MG_DATA_INT))
        return 0;
    const double *w0 = data + k0[1], *w1 = data + k1[1], *w2 = data + k2[1], *w3 = data + k3[1];
    double s0 = data[k0[0]], s1 = data[k1[0]], s2 = data[k2[0]], s3 = data[k3[0]];
    for (int32_t j = 0, e = 2; e < n; j++, e += 2) {
        double x = data[k0[e]];
        s0 = s0 + w0[j] * x;
        s1 = s1 + w1[j] * x;
        s2 = s2 + w2[j] * x;
        s3 = s3 + w3[j] * x;
    }
    double s[GROUP] = { s0, s1, s2, s3 };
    for (int q = 0; q < GROUP; q++) {
        data[nodes[q]] = s[q];
        flags[nodes[q]] &= (uint8_t)~MG_DATA_INT;
    }
    return GROUP;
}

/* log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the largest x: no overflow */
static double lse_forward(const mg_arena *a, const int32_t *k, int32_t n)
{
    double m = -INFINITY, s = 0;
    for (int32_t j = 0; j < n; j++)
        if (a->data[k[j]] > m || isnan(a->data[k[j]]))
            m = a->data[k[j]];
    if (!isfinite(m))       /* nan, +inf, or every x is -inf */
        return m;
    for (int32_t j = 0; j < n; j++)
        s += exp(a->data[k[j]] - m);
    return m + log(s);
}

#if defined(__GNUC__)
#define HOT_INLINE inline __attribute__((always_inline))    /* in the replay loop too */
#else
#define HOT_INLINE inline
#endif

/* The forward rule of every op: the data and int flag of a node from its
 * children k[0..n). The only place where an op's value is defined. */
static HOT_INLINE int forward(const mg_arena *a, int op, const int32_t *k, int32_t n, double arg,
                   int arg_int, double *out, int *is_int)
{
    double x = n > 0 ? a->data[k[0]] : 0, y = n > 1 ? a->data[k[1]] : 0;
    int xi = n > 0 && DI(k[0]), yi = n > 1 && DI(k[1]);
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
    case MG_DOT:     return dot_forward(a, k, n, out, is_int);
    case MG_LSE:     *out = lse_forward(a, k, n); return MG_OK;
    case MG_PY:      return MG_EPYTHON;     /* its forward was Python code */
    case MG_OP_COUNT: break;
    }
    return MG_EOP;
}

/* forward(), and what Python does with its result: an int too large for a float
 * is an OverflowError (as float()), and an int zero is never -0 (0 * -3 is 0) */
static HOT_INLINE int evaluate(const mg_arena *a, int op, const int32_t *k, int32_t n, double arg,
                    int arg_int, double *out, int *is_int)
{
    int status = forward(a, op, k, n, arg, arg_int, out, is_int);
    if (status == MG_OK && *is_int && !isfinite(*out))
        status = MG_ERANGE;
    if (*is_int && *out == 0)
        *out = 0;
    return status;
}

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
    int nary = arity[op] == NARY, is_int = 0;
    if (nary ? n < (op == MG_PY ? 0 : 1) || (op == MG_DOT && n % 2 == 0) : n != arity[op])
        return MG_EINDEX;       /* n-ary: one child at least (MG_PY: any); a dot: start and pairs */
    for (int32_t j = 0; j < n; j++)
        if (!mg_alive(a, k[j]))
            return MG_EINDEX;
    double data = 0;            /* an MG_PY node's data is given, as a leaf's */
    int status = evaluate(a, op == MG_PY ? MG_LEAF : op, k, n, arg, arg_is_int, &data, &is_int);
    if (op == MG_PY) {
        arg = 0;
        arg_is_int = 0;
    }
    if (status == MG_OK && nary)
        status = reserve_edges(a, n);
    int32_t i = -1;
    if (status == MG_OK)
        status = take_slot(a, &i);
    if (status != MG_OK)
        return status;
    make_node(a, i, op, k, n, arg, arg_is_int, data, is_int);
    *out = i;
    return MG_OK;
}

static void drop(mg_arena *a, int32_t i);

/* what the API returns for new node i: its index, with MG_PYTHON_INDEX if it has
 * MG_PYTHON; or minus the status */
static int32_t handed(const mg_arena *a, int status, int32_t i)
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
    i = handed(a, status, i);
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
    i = handed(a, status, i);
    UNLOCK(&a->lock);
    return i;
}

int32_t mg_push_py(mg_arena *a, const int32_t *kids, int32_t n, double data, int is_int)
{
    int32_t i = -1;
    LOCK(&a->lock);
    int status = n > 0 && !kids ? MG_EINDEX : push(a, MG_PY, kids, n, data, is_int, &i);
    i = handed(a, status, i);
    UNLOCK(&a->lock);
    return i;
}

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
    double data;
    int data_int;
    for (int32_t j = 0; j < n && status == MG_OK; j++)     /* every value checked first */
        status = evaluate(a, MG_LEAF, NULL, 0, values[j], is_int && is_int[j], &data, &data_int);
    int32_t first = a->len;
    for (int32_t j = 0; j < n && status == MG_OK; j++) {   /* at the end, not in free slots */
        int leaf_int = is_int && is_int[j];
        evaluate(a, MG_LEAF, NULL, 0, values[j], leaf_int, &data, &data_int);
        make_node(a, a->len++, MG_LEAF, NULL, 0, values[j], leaf_int, data, data_int);
    }
    UNLOCK(&a->lock);
    return status == MG_OK ? first : -status;
}

/* sum((w[k] * x[k] for k in range(n)), start), node for node as micrograd builds
 * it: product k is MUL(w[k], x[k]), sum k is ADD(sum k-1, product k). With
 * x == NULL, x[k] is a new leaf holding c[k] (a Python float). Only the last sum
 * keeps a reference for the caller; on failure every node made is freed. */
static int dot_chain(mg_arena *a, int32_t start, const int32_t *w, const int32_t *x,
                     const double *c, int32_t n, int32_t *out)
{
    int32_t acc = start, prod = -1, leaf = -1;
    int status = MG_OK;
    a->refs[start]++;               /* the chain's own hold on its first node */
    for (int32_t k = 0; k < n && status == MG_OK; k++) {
        int32_t sum = -1;
        if (!x)
            status = push(a, MG_LEAF, NULL, 0, c[k], 0, &leaf);
        int32_t mul[2] = { w[k], x ? x[k] : leaf };
        if (status == MG_OK)
            status = push(a, MG_MUL, mul, 2, 0, 0, &prod);
        if (leaf >= 0)
            drop(a, leaf);          /* held by prod now, or by nothing */
        int32_t add[2] = { acc, prod };
        if (status == MG_OK)
            status = push(a, MG_ADD, add, 2, 0, 0, &sum);
        if (prod >= 0)
            drop(a, prod);          /* held by sum now, or by nothing */
        drop(a, acc);               /* likewise */
        acc = sum;
        leaf = prod = -1;
    }
    *out = acc;
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
    out = handed(a, status, out);
    UNLOCK(&a->lock);
    return out;
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

static void plan_free(mg_arena *a, int32_t root);

/* Drop one reference to node i and free every node that no longer has any,
 * with an explicit stack (a 10-million-long chain is freed without recursion). */
static void drop(mg_arena *a, int32_t i)
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
        case MG_PYSTATE: a->flags[i] |= is_int ? MG_PYTHON : 0; break;
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

/* grad = 0, the int 0 of a fresh micrograd Value: every reset of a grad */
static HOT_INLINE void zero_grad(mg_arena *a, int32_t i)
{
    a->grad[i] = 0;
    a->flags[i] |= MG_GRAD_INT;
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

/* ---------------------------------------------------------------- order */

/* micrograd's topological sort, without recursion: every node reachable from
 * root, each once, after its children (post-order), written to order[0..n);
 * returns n. The path from root is kept at the other end of order (path[t] is
 * order[cap - 1 - t]: a node is on the path or done, never both, so they fit).
 * A node is SEEN from when it is put on the path; the caller clears SEEN on the
 * nodes of order. A node with two children at most looks at them again each
 * time it is on top; an n-ary one resumes where it stopped, at a->stack[t].
 * reset: also set the grads of the non-leaf nodes to 0 (for mg_backward).
 * *python: whether any node met has MG_PYTHON (a Python rule set after its parents
 * were made flags the node, not them). */
static HOT_INLINE int32_t topo(mg_arena *a, int32_t root, int32_t *order, int reset,
                               int *python)
{
    int32_t top = 0, n = 0, *path = order + a->cap - 1, *next = a->stack;
    int seen = a->flags[root];
    a->flags[root] |= SEEN;
    path[0] = root;
    next[top++] = 0;
    while (top > 0) {
        int32_t i = path[1 - top], l = a->kids[i][0], c = -1;
        if (l >= 0) {                   /* one or two children */
            int32_t r = a->kids[i][1];
            if (!(a->flags[l] & SEEN))
                c = l;
            else if (r >= 0 && !(a->flags[r] & SEEN))
                c = r;
        } else if (l < -1) {            /* n-ary: on along its run */
            const int32_t *k = a->edges + EDGES_AT(l);
            int32_t nk = a->kids[i][1], j = next[top - 1];
            while (j < nk && (a->flags[k[j]] & SEEN))
                j++;
            next[top - 1] = j + 1;
            c = j < nk ? k[j] : -1;
        }
        if (c >= 0) {
            seen |= a->flags[c];
            a->flags[c] |= SEEN;
            path[-top] = c;
            next[top++] = 0;
        } else {
            top--;
            order[n++] = i;
            if (reset && l != -1)       /* not a leaf */
                zero_grad(a, i);
        }
    }
    *python = (seen & MG_PYTHON) != 0;
    return n;
}

static mg_plan *plan_find(const mg_arena *a, int32_t root)
{
    if (!(a->flags[root] & PLANNED))
        return NULL;
    mg_plan *p = a->plans;
    while (p && p->root != root)
        p = p->next;
    return p;
}

#define BLOCK 512

/* from[0..n) into to[0..n), stably by level: a counting sort over the levels of
 * the block (count has BLOCK + 1 entries). A block spanning BLOCK levels or more
 * (a deep chain) is copied as it is: it has few nodes of a level to bring together. */
static void sort_block(const int32_t *level, const int32_t *from, int32_t *to, int32_t n,
                       int32_t *count)
{
    int32_t lo = level[from[0]], hi = lo;
    for (int32_t k = 1; k < n; k++) {
        lo = level[from[k]] < lo ? level[from[k]] : lo;
        hi = level[from[k]] > hi ? level[from[k]] : hi;
    }
    if (hi - lo >= BLOCK) {         /* a deep chain: nothing to gain by sorting */
        memcpy(to, from, (size_t)n * sizeof *to);
        return;
    }
    memset(count, 0, (size_t)(hi - lo + 2) * sizeof *count);
    for (int32_t k = 0; k < n; k++)
        count[level[from[k]] - lo + 1]++;
    for (int32_t v = 1; v <= hi - lo + 1; v++)
        count[v] += count[v - 1];
    for (int32_t k = 0; k < n; k++)
        to[count[level[from[k]] - lo]++] = from[k];
}

/* root's kept order, made now if it has none; NULL when out of memory.
 * The topological order without its leaves, then each block of BLOCK nodes
 * sorted by level: still topological (a node's children are in earlier blocks
 * or at lower levels), still local in memory, and the neurons of a layer come
 * side by side, where groups are found. */
static mg_plan *plan_get(mg_arena *a, int32_t root)
{
    mg_plan *p = plan_find(a, root);
    if (p)
        return p;
    int python;
    int32_t n = topo(a, root, a->order, 0, &python), m = 0, *order = a->order;
    int32_t *level = a->stack;      /* scratch, by node: a level for each node of order */
    for (int32_t k = 0; k < n; k++) {
        int32_t i = order[k], lv = 0;
        const int32_t *kids;
        a->flags[i] &= (uint8_t)~SEEN;
        for (int32_t c = 0, nk = children(a, i, &kids); c < nk; c++)
            lv = level[kids[c]] >= lv ? level[kids[c]] + 1 : lv;
        level[i] = lv;
        if (a->op[i] != MG_LEAF)
            order[m++] = i;         /* the non-leaves, still children first */
    }
    int32_t *count = malloc((BLOCK + 1) * sizeof *count);
    p = malloc(sizeof *p + (size_t)m * (sizeof(int32_t) + 1));
    if (!p || !count) {
        free(p);
        free(count);
        return NULL;
    }
    for (int32_t lo = 0; lo < m; lo += BLOCK)
        sort_block(level, order + lo, p->order + lo, m - lo < BLOCK ? m - lo : BLOCK, count);
    free(count);
    p->span = (int8_t *)(p->order + m);
    memset(p->span, 1, (size_t)m);
    for (int32_t k = 0; k + GROUP <= m; k++) {
        if (level[p->order[k]] == level[p->order[k + GROUP - 1]] && is_group(a, p->order + k)) {
            p->span[k] = GROUP;     /* one level: sorted, so the first and last agree */
            p->span[k + GROUP - 1] = -GROUP;
            k += GROUP - 1;
        }
    }
    p->root = root;
    p->n = m;
    p->next = a->plans;
    a->plans = p;
    a->flags[root] |= PLANNED;
    return p;
}

/* root's node is being freed: so is its kept order */
static void plan_free(mg_arena *a, int32_t root)
{
    for (mg_plan **p = &a->plans; *p; p = &(*p)->next) {
        if ((*p)->root == root) {
            mg_plan *dead = *p;
            *p = dead->next;
            free(dead);
            break;
        }
    }
    a->flags[root] &= (uint8_t)~PLANNED;
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

/* the chain of `*` and `+` that MG_DOT stands for: every sum passes out.grad on,
 * every product w*x gives w.grad += x.data * out.grad and the mirror image */
static void dot_backward(mg_arena *a, const int32_t *k, int32_t n, double g, int gi)
{
    acc(a, k[0], g, gi);
    for (int32_t j = 1; j + 1 < n; j += 2) {
        acc(a, k[j], a->data[k[j + 1]] * g, gi && DI(k[j + 1]));
        acc(a, k[j + 1], a->data[k[j]] * g, gi && DI(k[j]));
    }
}

/* dot_backward for a group whose grads are floats (else 0, having done nothing):
 * each input's grad gets the GROUP products in one read and one write */
static int group_backward(mg_arena *a, const int32_t *nodes)
{
    double *grad = a->grad;
    const double *data = a->data;
    uint8_t *flags = a->flags;
    for (int q = 0; q < GROUP; q++)
        if (flags[nodes[q]] & MG_GRAD_INT)
            return 0;
    const int32_t *k[GROUP];
    int32_t n = 0;
    double g[GROUP];
    for (int q = GROUP - 1; q >= 0; q--) {
        n = children(a, nodes[q], &k[q]);
        g[q] = grad[nodes[q]];
        acc(a, k[q][0], g[q], 0);                       /* the first sum's self.grad += out.grad */
    }
    double *gw0 = grad + k[0][1], *gw1 = grad + k[1][1], *gw2 = grad + k[2][1], *gw3 = grad + k[3][1];
    const double *w0 = data + k[0][1], *w1 = data + k[1][1], *w2 = data + k[2][1], *w3 = data + k[3][1];
    const int32_t *xs = k[0];
    for (int32_t j = 0, e = 2; e < n; j++, e += 2) {
        int32_t x = xs[e];
        double dx = data[x], t = grad[x];           /* no weight is an input: t is not stale */
        gw0[j] += dx * g[0];
        gw1[j] += dx * g[1];
        gw2[j] += dx * g[2];
        gw3[j] += dx * g[3];
        t += w3[j] * g[3];      /* the last node first, as backward_node one by one would */
        t += w2[j] * g[2];
        t += w1[j] * g[1];
        t += w0[j] * g[0];
        grad[x] = t;
    }
    for (int32_t e = 2; e < n; e += 2)
        flags[xs[e]] &= (uint8_t)~MG_GRAD_INT;
    for (int q = 0; q < GROUP; q++)
        clear_flag(flags + k[q][1], n / 2, MG_GRAD_INT);
    return GROUP;
}

/* d logsumexp / dx_j = exp(x_j - out): the softmax */
static void lse_backward(mg_arena *a, int32_t i, const int32_t *k, int32_t n, double g)
{
    for (int32_t j = 0; j < n; j++)
        acc(a, k[j], exp(a->data[k[j]] - a->data[i]) * g, 0);
}

/* The backward rule of every op, computed from current data as micrograd does.
 * l and r are the children of a node of two at most (of an n-ary node, its run). */
static HOT_INLINE void backward_node(mg_arena *a, int32_t i)
{
    const int32_t *k;
    int32_t l = a->kids[i][0], r = a->kids[i][1], n;
    double g = a->grad[i];
    int gi = (a->flags[i] & MG_GRAD_INT) != 0;
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
    case MG_DOT:
        n = children(a, i, &k);
        dot_backward(a, k, n, g, gi);
        break;
    case MG_LSE:
        n = children(a, i, &k);
        lse_backward(a, i, k, n, g);
        break;
    case MG_PY:         /* its rule, if any, is Python code: Python calls it */
        break;
    case MG_OP_COUNT:
        assert(0);
        break;
    }
}

/* micrograd's backward: root's grad becomes 1 (a leaf root adds 1), the other
 * non-leaf grads restart from 0, leaves accumulate; then the ops' backward rules
 * run in reverse topological order, parents before children, so a node's grad
 * is complete before it is passed on. The order is root's kept one if it has
 * one (mg_forward made it), else computed now. Reading the nodes from an array,
 * not from a stack fed by the previous node, lets the CPU overlap their cache
 * misses (twice as fast as Kahn's algorithm here on a 200k-node graph). Only
 * nodes reachable from root are touched. */
int mg_backward(mg_arena *a, int32_t root)
{
    LOCK(&a->lock);
    if (!mg_alive(a, root) || (a->flags[root] & MG_PYTHON)) {
        int status = mg_alive(a, root) ? MG_EPYTHON : MG_EINDEX;
        UNLOCK(&a->lock);
        return status;
    }
    mg_plan *p = plan_find(a, root);
    int python = 0;
    if (p) {
        for (int32_t k = 0; k < p->n; k++) {    /* a plan has no leaves */
            python |= a->flags[p->order[k]];
            zero_grad(a, p->order[k]);
        }
        if (python & MG_PYTHON) {
            UNLOCK(&a->lock);
            return MG_EPYTHON;
        }
        a->grad[root] += 1;     /* self.grad = 1 */
        for (int32_t k = p->n - 1; k >= 0; k--) {
            if (p->span[k] == -GROUP && group_backward(a, p->order + k - (GROUP - 1)))
                k -= GROUP - 1;
            else
                backward_node(a, p->order[k]);
        }
    } else {
        int32_t n = topo(a, root, a->order, 1, &python);
        if (python) {           /* a Python rule below: Python runs this backward */
            for (int32_t k = 0; k < n; k++)
                a->flags[a->order[k]] &= (uint8_t)~SEEN;
            UNLOCK(&a->lock);
            return MG_EPYTHON;
        }
        a->grad[root] += 1;     /* self.grad = 1 */
        for (int32_t k = n - 1; k >= 0; k--) {
            a->flags[a->order[k]] &= (uint8_t)~SEEN;
            backward_node(a, a->order[k]);
        }
    }
    UNLOCK(&a->lock);
    return MG_OK;
}

int mg_backward_node(mg_arena *a, int32_t i)
{
    LOCK(&a->lock);
    int status = mg_alive(a, i) ? MG_OK : MG_EINDEX;
    if (status == MG_OK)
        backward_node(a, i);
    UNLOCK(&a->lock);
    return status;
}

int32_t mg_order(mg_arena *a, int32_t root, int32_t *out, int32_t cap)
{
    LOCK(&a->lock);
    int python;
    int32_t n = mg_alive(a, root) && (cap <= 0 || out) ? topo(a, root, a->order, 0, &python)
                                                       : -MG_EINDEX;
    for (int32_t k = 0; k < n; k++)
        a->flags[a->order[k]] &= (uint8_t)~SEEN;
    if (n > 0 && n <= cap) {
        for (int32_t k = 0; k < n; k++) {
            int32_t i = out[k] = a->order[k];
            if (a->kids[i][0] != -1)    /* not a leaf: as topo's reset */
                zero_grad(a, i);
        }
        a->grad[root] += 1;             /* self.grad = 1 */
    }
    UNLOCK(&a->lock);
    return n;
}

int32_t mg_find(mg_arena *a, const int32_t *order, int32_t n, const int32_t *idx, int32_t m,
                int32_t *pos)
{
    int32_t found = 0;
    if ((n > 0 && !order) || (m > 0 && (!idx || !pos)))
        return -MG_EINDEX;
    LOCK(&a->lock);
    for (int32_t j = 0; j < m; j++)         /* SEEN marks them, as it never outlives a call */
        if (mg_alive(a, idx[j]))
            a->flags[idx[j]] |= SEEN;
    for (int32_t k = n - 1; k >= 0 && found < m; k--)
        if (mg_alive(a, order[k]) && (a->flags[order[k]] & SEEN))
            pos[found++] = k;
    for (int32_t j = 0; j < m; j++)
        if (mg_alive(a, idx[j]))
            a->flags[idx[j]] &= (uint8_t)~SEEN;
    UNLOCK(&a->lock);
    return found;
}

int mg_backward_nodes(mg_arena *a, const int32_t *order, int32_t n)
{
    if (n > 0 && !order)
        return MG_EINDEX;
    LOCK(&a->lock);
    int status = MG_OK;
    for (int32_t k = 0; k < n && status == MG_OK; k++)
        status = mg_alive(a, order[k]) ? MG_OK : MG_EINDEX;
    for (int32_t k = n - 1; k >= 0 && status == MG_OK; k--)
        backward_node(a, order[k]);
    UNLOCK(&a->lock);
    return status;
}

/* ---------------------------------------------------------------- replay */

int mg_forward(mg_arena *a, int32_t root, int32_t *failed)
{
    int status = MG_OK;
    *failed = -1;
    LOCK(&a->lock);
    mg_plan *p = mg_alive(a, root) ? plan_get(a, root) : NULL;
    if (!p)
        status = mg_alive(a, root) ? MG_ENOMEM : MG_EINDEX;
    for (int32_t k = 0; p && (a->flags[root] & MG_PYTHON) && k < p->n; k++) {
        if (a->op[p->order[k]] == MG_PY) {      /* its forward is Python code: change nothing */
            *failed = p->order[k];
            UNLOCK(&a->lock);
            return MG_EPYTHON;
        }
    }
    for (int32_t k = 0; p && k < p->n; ) {
        int32_t i = p->order[k];
        if (p->span[k] == GROUP && group_forward(a, p->order + k)) {
            k += GROUP;
            continue;
        }
        const int32_t *kids;
        int32_t n = children(a, i, &kids);
        int is_int;
        double data;
        status = evaluate(a, a->op[i], kids, n, a->arg[i], a->flags[i] & MG_ARG_INT, &data, &is_int);
        if (status != MG_OK) {
            *failed = i;
            break;
        }
        a->data[i] = data;
        set_flag(&a->flags[i], MG_DATA_INT, is_int);
        k++;
    }
    UNLOCK(&a->lock);
    return status;
}

/* ---------------------------------------------------------------- Python's arena */

static mg_arena *used;

void mg_use(mg_arena *a) { used = a; }

int32_t mg_use_push(int op, int32_t lhs, int32_t rhs, double arg, int arg_is_int)
{
    return used ? mg_push(used, op, lhs, rhs, arg, arg_is_int) : -MG_EINDEX;
}

double mg_use_value(int32_t i, int field) { return used ? mg_value(used, i, field) : NAN; }
int mg_use_is_int(int32_t i, int field) { return used && mg_is_int(used, i, field); }

int mg_use_set(int32_t i, int field, double value, int is_int)
{
    return used ? mg_set(used, i, field, value, is_int) : MG_EINDEX;
}

int mg_use_release(const int32_t *idx, int32_t n)
{
    return used ? mg_release(used, idx, n) : MG_EINDEX;
}
