/* plan.c: walks over a graph: topological order, kept plans and their groups,
 * the backward drivers, replay (mg_forward).
 *
 * Not here: what one node computes (eval.h), making or freeing nodes (build.c,
 * arena.c). Only nodes reachable from root are touched.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "eval.h"

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

/* clear SEEN on the n nodes of order: a walk's marks never outlive its call */
static HOT_INLINE void unmark(mg_arena *a, const int32_t *order, int32_t n)
{
    for (int32_t k = 0; k < n; k++)
        a->flags[order[k]] &= (uint8_t)~SEEN;
}

/* self.grad = 1 on root, its grad reset to 0 before (a leaf root adds 1) */
static HOT_INLINE void seed_root(mg_arena *a, int32_t root)
{
    a->grad[root] += 1;
}

/* ---------------------------------------------------------------- groups */

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
            if (k[q][e] != k[0][e] || (k[0][e] >= lo[q] && k[0][e] < hi[q]) || k[0][e] == k[q][0])
                return 0;       /* other inputs, an input among the weights, or a start:
                                   group_backward adds the starts' terms first */
    return 1;
}

/* a dot's step and terms where every number is a float, by mul's and add's rules:
 * the sum s + w * x, and what w.grad and x.grad receive from out.grad g */
static HOT_INLINE double float_step(double s, double w, double x)
{
    return add_forward(real(s), real(mul_forward(real(w), real(x)).value)).value;
}
static HOT_INLINE double w_term(double w, double x, double g)
{
    return mul_dx(real(w), real(x), 0, real(g)).value;
}
static HOT_INLINE double x_term(double w, double x, double g)
{
    return mul_dy(real(w), real(x), 0, real(g)).value;
}

/* the sums of a group, each in micrograd's order; returns 0, having written
 * nothing, if a weight is an int (then dot_forward_n's checks are needed): with
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
        s0 = float_step(s0, w0[j], x);
        s1 = float_step(s1, w1[j], x);
        s2 = float_step(s2, w2[j], x);
        s3 = float_step(s3, w3[j], x);
    }
    double s[GROUP] = { s0, s1, s2, s3 };
    for (int q = 0; q < GROUP; q++) {
        data[nodes[q]] = s[q];
        flags[nodes[q]] &= (uint8_t)~MG_DATA_INT;
    }
    return GROUP;
}

/* dot_backward_n for a group whose grads are floats (else 0, having done nothing):
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
        add_grad(a, k[q][0], add_dx(real(0), real(0), 0, real(g[q])));     /* the first sum */
    }
    double *gw0 = grad + k[0][1], *gw1 = grad + k[1][1], *gw2 = grad + k[2][1], *gw3 = grad + k[3][1];
    const double *w0 = data + k[0][1], *w1 = data + k[1][1], *w2 = data + k[2][1], *w3 = data + k[3][1];
    const int32_t *xs = k[0];
    for (int32_t j = 0, e = 2; e < n; j++, e += 2) {
        int32_t x = xs[e];
        double dx = data[x], t = grad[x];           /* no weight is an input: t is not stale */
        gw0[j] += w_term(w0[j], dx, g[0]);
        gw1[j] += w_term(w1[j], dx, g[1]);
        gw2[j] += w_term(w2[j], dx, g[2]);
        gw3[j] += w_term(w3[j], dx, g[3]);
        t += x_term(w3[j], dx, g[3]);   /* the last node first, as backward_node one by one would */
        t += x_term(w2[j], dx, g[2]);
        t += x_term(w1[j], dx, g[1]);
        t += x_term(w0[j], dx, g[0]);
        grad[x] = t;
    }
    for (int32_t e = 2; e < n; e += 2)
        flags[xs[e]] &= (uint8_t)~MG_GRAD_INT;
    for (int q = 0; q < GROUP; q++)
        clear_flag(flags + k[q][1], n / 2, MG_GRAD_INT);
    return GROUP;
}

/* ---------------------------------------------------------------- plans */

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
    unmark(a, order, n);
    for (int32_t k = 0; k < n; k++) {
        int32_t i = order[k], lv = 0;
        const int32_t *kids;
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
    p->group_at = (int8_t *)(p->order + m);
    memset(p->group_at, 1, (uint32_t)m);   /* (m >= 0: unsigned, for -Wstringop-overflow) */
    for (int32_t k = 0; k + GROUP <= m; k++) {
        if (level[p->order[k]] == level[p->order[k + GROUP - 1]] && is_group(a, p->order + k)) {
            p->group_at[k] = GROUP;     /* one level: sorted, so the first and last agree */
            p->group_at[k + GROUP - 1] = -GROUP;
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

mg_plan *plan_of(mg_arena *a, int32_t root)
{
    return plan_get(a, root);
}

/* root's node is being freed: so is its kept order */
void plan_free(mg_arena *a, int32_t root)
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

/* micrograd's backward: root's grad becomes 1 (a leaf root adds 1), the other
 * non-leaf grads restart from 0, leaves accumulate; then the ops' backward rules
 * run in reverse topological order, parents before children, so a node's grad
 * is complete before it is passed on. The order is root's kept one if it has
 * one (mg_forward made it), else computed now. Reading the nodes from an array,
 * not from a stack fed by the previous node, lets the CPU overlap their cache
 * misses (faster than Kahn's algorithm: benchmarks/RESULTS.md, backward). Only
 * nodes reachable from root are touched. */
int mg_backward(mg_arena *a, int32_t root)
{
    LOCK(&a->lock);
    if (!mg_alive(a, root) || (a->flags[root] & MG_PYTHON)) {
        int status = mg_alive(a, root) ? MG_EPYTHON : MG_EINDEX;
        UNLOCK(&a->lock);
        return status;
    }
    /* A kept order has no leaves, so while any leaf of the arena has a Python rule (a
     * gradient hook), walk the graph anew: the walk meets such a leaf if it is in this
     * graph, and leaves the backward to Python (MG_EPYTHON). */
    mg_plan *p = a->python_leaves ? NULL : plan_find(a, root);
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
        seed_root(a, root);
        for (int32_t k = p->n - 1; k >= 0; k--) {
            if (p->group_at[k] == -GROUP && group_backward(a, p->order + k - (GROUP - 1)))
                k -= GROUP - 1;
            else
                backward_node(a, p->order[k]);
        }
    } else {
        int32_t n = topo(a, root, a->order, 1, &python);
        if (python) {           /* a Python rule below: Python runs this backward */
            unmark(a, a->order, n);
            UNLOCK(&a->lock);
            return MG_EPYTHON;
        }
        seed_root(a, root);
        for (int32_t k = n - 1; k >= 0; k--) {
            unmark(a, a->order + k, 1);     /* here, not in a pass of its own: a read less */
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
    unmark(a, a->order, n);
    if (n > 0 && n <= cap) {
        for (int32_t k = 0; k < n; k++) {
            int32_t i = out[k] = a->order[k];
            if (a->kids[i][0] != -1)    /* not a leaf: as topo's reset */
                zero_grad(a, i);
        }
        seed_root(a, root);
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
        if (p->group_at[k] == GROUP && group_forward(a, p->order + k)) {
            k += GROUP;
            continue;
        }
        const int32_t *kids;
        int32_t n = children(a, i, &kids);
        mg_result r = evaluate(a, a->op[i], kids, n,
                               number(a->arg[i], (a->flags[i] & MG_ARG_INT) != 0));
        status = r.status;
        if (status != MG_OK) {
            *failed = i;
            break;
        }
        a->data[i] = r.value;
        set_flag(&a->flags[i], MG_DATA_INT, r.is_int);
        k++;
    }
    UNLOCK(&a->lock);
    return status;
}

