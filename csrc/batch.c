/* batch.c: a Batch: one example's graph run over many rows (mg.h, "batch").
 *
 * mg_batch_new copies root's graph in its kept order (plan.c) and splits it into
 * laned nodes (those that depend on an input) and shared ones; finds the tiles (dots
 * over the same inputs with shared weights: a layer's neurons). A forward reads the
 * shared leaves from the arena (the parameters, never written), computes the shared
 * nodes once, then every chunk of CHUNK rows on a thread of its own; a backward
 * runs the chunks, adds each shared node's grad over the chunks in order, runs the
 * shared nodes' backward and adds the shared leaves' grads to the arena.
 * Not here: what a node computes over lanes (lanes.h, one copy per CPU target).
 * Locks: the Batch's own for its buffers; the arena's only to read the graph and
 * the parameters, and to add the grads: other threads may build meanwhile.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "eval.h"

/* ---------------------------------------------------------------- kernels */

static const lane_kernels *chosen;

/* the kernels of the best target this CPU has, or MG_KERNELS's (baseline, avx2,
 * avx512) if the CPU has it. Chosen once (under the arena's lock or the GIL). */
static const lane_kernels *kernels(void)
{
    if (chosen)
        return chosen;
    const char *want = getenv("MG_KERNELS");
    const lane_kernels *k = &lanes_baseline;
#if defined(MG_X86_CLONES)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2"), avx512 = __builtin_cpu_supports("avx512f");
    if (want && strcmp(want, "baseline") == 0)
        k = &lanes_baseline;
    else if (avx512 && !(want && strcmp(want, "avx2") == 0))
        k = &lanes_avx512;
    else if (avx2)
        k = &lanes_avx2;
#else
    (void)want;
#endif
    chosen = k;
    return k;
}

const char *mg_kernels(void)
{
    return kernels()->name;
}

/* n doubles on a cache line's boundary: a row block of ROWS lanes is one line */
static double *lanes_alloc(size_t n)
{
#if defined(_WIN32)
    return _aligned_malloc((n + ROWS) * sizeof(double), 64);
#else
    return aligned_alloc(64, (n + ROWS) * sizeof(double) / 64 * 64 + 64);
#endif
}

static void lanes_free(double *p)
{
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

/* ---------------------------------------------------------------- the graph */

static int by_node(const void *x, const void *y)
{
    const int32_t *p = x, *q = y;
    return (p[0] > q[0]) - (p[0] < q[0]);
}

/* j's local index for arena node i, -1 for a node not in the graph, -2 for one that
 * is not run */
static int32_t local_of(const mg_batch *b, int32_t i)
{
    int32_t key[2] = { i, 0 };
    const int32_t *hit = bsearch(key, b->by_node, (size_t)b->lookups, 2 * sizeof(int32_t),
                                 by_node);
    return hit ? hit[1] : -1;
}

/* a dot of the tile kind: laned, with pairs of one shared and one laned operand,
 * put in that order (w * x is x * w, bit for bit, and so are their grads' terms) */
static int tileable(mg_batch *b, int32_t j, int32_t *seen, int32_t pass)
{
    bnode *n = &b->nodes[j];
    if (n->op != MG_DOT || !n->laned || n->nk < 3 || n->nk % 2 == 0)
        return 0;
    int32_t *k = b->kids + n->k0;
    for (int32_t e = 1; e + 1 < n->nk; e += 2) {
        int lw = b->nodes[k[e]].laned, lx = b->nodes[k[e + 1]].laned;
        int32_t x = lw ? k[e] : k[e + 1];
        if (lw == lx || seen[x] == pass)
            return 0;       /* an input twice: a layer's backward adds each input's grad once */
        seen[x] = pass;
    }
    if (seen[k[0]] == pass)
        return 0;           /* its start an input too: backward() adds the start's term first */
    for (int32_t e = 1; e + 1 < n->nk; e += 2) {
        if (b->nodes[k[e]].laned) {
            int32_t t = k[e];
            k[e] = k[e + 1];
            k[e + 1] = t;
        }
    }
    return 1;
}

/* dots j and i have the same inputs (both tileable) */
static int same_inputs(const mg_batch *b, int32_t j, int32_t i)
{
    const bnode *m = &b->nodes[j], *n = &b->nodes[i];
    if (m->nk != n->nk)
        return 0;
    for (int32_t e = 2; e < n->nk; e += 2)
        if (b->kids[m->k0 + e] != b->kids[n->k0 + e])
            return 0;
    return 1;
}

/* tiles of up to TILE consecutive dots, their places in wpack, wgrad and xslot, and
 * the gslots of the shared operands that get grads from laned nodes outside tiles */
static int find_tiles(mg_batch *b)
{
    int64_t xs = 0, dots = 0;
    int32_t last = -1, pass = 0, *seen = calloc((size_t)(uint32_t)b->n + 1, sizeof *seen);
    if (!seen)
        return MG_ENOMEM;
    b->tiled = 0;
    for (int32_t j = b->n - 1; j >= 0; j--)
        b->nodes[j].tile = 0;
    for (int32_t j = 0; j < b->n; ) {
        if (!tileable(b, j, seen, ++pass)) {
            j++;
            continue;
        }
        int nt = 1;         /* (a dot whose start is one of the tile's is not in it) */
        while (nt < TILE && j + nt < b->n && tileable(b, j + nt, seen, ++pass)
               && same_inputs(b, j, j + nt) && b->kids[b->nodes[j + nt].k0] < j)
            nt++;
        dots += nt;
        bnode *n = &b->nodes[j];
        n->tile = (int8_t)nt;
        for (int q = 1; q < nt; q++)
            n[q].tile = -1;
        n->wat = b->tiled;
        b->tiled += (int64_t)TILE * ((n->nk - 1) / 2);
        if (last >= 0 && same_inputs(b, last, j)) {
            n->xat = b->nodes[last].xat;    /* a layer's tiles: one list, packed once */
        } else {
            n->xat = xs;
            xs += (n->nk - 1) / 2;
        }
        last = j;
        j += nt;
    }
    free(seen);
    b->xslot = malloc((size_t)(xs ? xs : 1) * sizeof *b->xslot);
    b->wslot = malloc((size_t)(b->tiled ? b->tiled : 1) * sizeof *b->wslot);
    b->kdot = malloc((size_t)(dots + 1) * sizeof *b->kdot);
    b->kslot = malloc((size_t)(dots + 1) * sizeof *b->kslot);
    b->kw = malloc((size_t)(dots + 1) * sizeof *b->kw);
    if (!b->xslot || !b->wslot || !b->kdot || !b->kslot || !b->kw)
        return MG_ENOMEM;
    int32_t kat = 0;
    b->gslots = 0;
    for (int32_t j = 0; j < b->n; j++) {
        const bnode *n = &b->nodes[j];
        const int32_t *k = b->kids + n->k0;
        if (n->tile > 0) {
            int32_t np = (n->nk - 1) / 2;
            b->most = np > b->most ? np : b->most;
            b->nodes[j].kat = kat;
            for (int q = 0; q < n->tile; q++, kat++) {
                b->kdot[kat] = j + q;
                b->kslot[kat] = n[q].slot;
                b->kw[kat] = n->wat + q;
            }
            for (int32_t p = 0; p < np; p++)
                b->xslot[n->xat + p] = b->nodes[k[2 + 2 * p]].slot;
            for (int q = 0; q < TILE; q++)
                for (int32_t p = 0; p < np; p++)
                    b->wslot[n->wat + p * TILE + q] = q < n->tile
                        ? b->nodes[b->kids[n[q].k0 + 1 + 2 * p]].slot : -1;
        }
        if (!n->laned)
            continue;
        int32_t nk = n->tile != 0 ? 1 : n->nk;     /* a tile's start; its weights: wgrad */
        for (int32_t e = 0; e < nk; e++)
            if (!b->nodes[k[e]].laned && b->nodes[k[e]].gslot < 0)
                b->nodes[k[e]].gslot = b->gslots++;
    }
    b->gshared = malloc((size_t)(b->gslots + 1) * sizeof *b->gshared);
    if (!b->gshared)
        return MG_ENOMEM;
    for (int32_t j = 0; j < b->n; j++)
        if (b->nodes[j].gslot >= 0)
            b->gshared[b->nodes[j].gslot] = b->nodes[j].slot;
    return MG_OK;
}

/* node i of the arena as local node j, its operands at kids[*at ...]: laned if one
 * of them is; MG_EPYTHON (*bad: i) if Python code belongs to it */
static int copy_node(mg_batch *b, const mg_arena *a, int32_t j, int32_t i, int64_t *at,
                     int32_t *bad)
{
    bnode *n = &b->nodes[j];
    const int32_t *kids;
    n->op = a->op[i];
    n->node = i;
    n->gslot = -1;
    n->arg = a->arg[i];
    n->arg_int = (a->flags[i] & MG_ARG_INT) != 0;
    n->single = a->refs[i] == 1;
    n->k0 = (int32_t)*at;
    n->nk = children(a, i, &kids);
    for (int32_t c = 0; c < n->nk; c++) {
        int32_t l = a->stack[kids[c]];
        b->kids[(*at)++] = l;
        n->laned |= b->nodes[l].laned;
    }
    b->by_node[2 * j] = i;
    b->by_node[2 * j + 1] = j;
    if (a->flags[i] & MG_PYTHON) {
        *bad = i;
        return MG_EPYTHON;
    }
    return MG_OK;
}

/* micrograd's neuron, sum((wi * xi for ...), b): a chain of + whose right operands
 * are products, each of its nodes but the top and each product used by nothing else
 * (no Value holds them). Its top becomes one dot over the chain's operands: the same
 * numbers in the same order (dot_step is the chain's arithmetic), and a tile when it
 * is a layer's; the chain's other nodes are not run and get no lanes. */
static int fuse_chains(mg_batch *b, int *fused)
{
    for (int32_t j = b->n - 1; j >= b->leaves; j--) {
        bnode *top = &b->nodes[j];
        if (top->op != MG_ADD || !top->laned || top->fused)
            continue;
        int32_t terms = 0, node = j, start;
        for (;;) {                      /* down the chain: its length and its start */
            const int32_t *k = b->kids + b->nodes[node].k0;
            const bnode *l = &b->nodes[k[0]], *r = &b->nodes[k[1]];
            if (r->op != MG_MUL || !r->single) {
                start = node;
                break;
            }
            terms++;
            if (l->op != MG_ADD || !l->single) {
                start = k[0];
                break;
            }
            node = k[0];
        }
        if (terms == 0)
            continue;
        int32_t *kids = realloc(b->kids, (size_t)(b->nkids + 1 + 2 * terms) * sizeof *kids);
        if (!kids)
            return MG_ENOMEM;
        b->kids = kids;
        int64_t at = b->nkids;
        kids[at] = start;
        node = j;
        for (int32_t t = terms - 1; t >= 0; t--) {     /* the last product at the top */
            const int32_t *k = kids + b->nodes[node].k0;
            const int32_t *m = kids + b->nodes[k[1]].k0;
            kids[at + 1 + 2 * t] = m[0];
            kids[at + 2 + 2 * t] = m[1];
            b->nodes[k[1]].fused = 1;
            b->nodes[node].fused = node != j;
            node = k[0];
        }
        *fused = 1;
        top->op = MG_DOT;
        top->k0 = (int32_t)at;
        top->nk = 1 + 2 * terms;
        b->nkids += 1 + 2 * terms;
    }
    return MG_OK;
}

/* After fusing chains: the nodes that are run, children first and by level (stably),
 * so that the dots of a layer come side by side, where tiles are found, though each
 * was a chain of a thousand nodes. Without chains the batch keeps the kept order as it
 * is, and each node's grad gets its parents' terms in the order backward() adds them;
 * here that order can change (a chain's products add theirs at its top): such a
 * graph's grads match backward()'s to rounding, not to the bit. */
static int reorder(mg_batch *b)
{
    int32_t n = b->n, kept = 0, top = 0;
    int32_t *level = malloc((size_t)(uint32_t)n * sizeof *level);
    int32_t *map = malloc((size_t)(uint32_t)n * sizeof *map);
    bnode *nodes = malloc((size_t)(uint32_t)n * sizeof *nodes);
    int32_t *count = NULL;
    if (level && map && nodes) {
        for (int32_t j = 0; j < n; j++) {
            const bnode *v = &b->nodes[j];
            int32_t lv = 0;
            for (int32_t e = 0; e < v->nk && !v->fused; e++) {
                int32_t c = level[b->kids[v->k0 + e]] + 1;
                lv = c > lv ? c : lv;
            }
            level[j] = v->fused ? -1 : lv;
            top = lv > top ? lv : top;
        }
        count = calloc((size_t)top + 2, sizeof *count);
    }
    if (!count) {
        free(level), free(map), free(nodes);
        return MG_ENOMEM;
    }
    for (int32_t j = 0; j < n; j++)
        if (level[j] >= 0)
            count[level[j] + 1]++;
    for (int32_t lv = 1; lv <= top + 1; lv++)
        count[lv] += count[lv - 1];
    for (int32_t j = 0; j < n; j++) {
        map[j] = level[j] >= 0 ? count[level[j]]++ : -1;
        if (map[j] >= 0) {
            nodes[map[j]] = b->nodes[j];
            kept++;
        }
    }
    for (int32_t j = 0; j < kept; j++)
        for (int32_t e = 0; e < nodes[j].nk; e++)
            b->kids[nodes[j].k0 + e] = map[b->kids[nodes[j].k0 + e]];
    for (int32_t j = 0; j < n; j++)        /* a node that is not run: -2 */
        b->by_node[2 * j + 1] = map[j] >= 0 ? map[j] : -2;
    for (int32_t k = 0; k < b->inputs; k++)
        b->input[k] = map[b->input[k]];
    b->root = map[b->root];
    free(b->nodes);
    b->nodes = nodes;
    b->lookups = n;
    b->n = kept;
    free(level), free(map), free(count);
    return MG_OK;
}

/* the walks' lists (batch.h) */
static int make_lists(mg_batch *b)
{
    size_t n = (size_t)(uint32_t)b->n + 1;
    b->steps = malloc(n * sizeof(int32_t));
    b->ops = malloc(n * sizeof(int32_t));
    b->params = malloc(n * sizeof(int32_t));
    b->lanes = malloc(n * sizeof(int32_t));
    b->pnode = malloc(n * sizeof(int32_t));
    if (!b->steps || !b->ops || !b->params || !b->lanes || !b->pnode)
        return MG_ENOMEM;
    int32_t nl = 0;
    for (int32_t j = 0; j < b->n; j++) {
        const bnode *v = &b->nodes[j];
        if (v->laned) {
            b->lanes[nl++] = j;
            b->work += v->nk;
        }
        if (v->op == MG_LEAF && !v->laned) {
            assert(v->slot == b->nparams);      /* the leaves' slots come first */
            b->pnode[b->nparams] = v->node;
            b->params[b->nparams++] = j;
        }
        else if (v->op != MG_LEAF && !v->laned)
            b->ops[b->nops++] = j;
        else if (v->op != MG_LEAF && v->tile >= 0)
            b->steps[b->nsteps++] = j;
    }
    return MG_OK;
}

/* The graph of root (kept order, leaves first), under the arena's lock: local
 * indices in a->stack, SEEN on its nodes meanwhile. */
static int copy_graph(mg_batch *b, mg_arena *a, int32_t root, const int32_t *inputs,
                      int32_t n_inputs, int32_t *bad)
{
    mg_plan *p = plan_of(a, root);
    if (!p)
        return MG_ENOMEM;
    int32_t nl = 0, *leaves = a->order, *local = a->stack;
    int64_t nkids = 0;
    if (p->n == 0) {                    /* root is a leaf */
        leaves[nl++] = root;
        a->flags[root] |= SEEN;
    }
    for (int32_t k = 0; k < p->n; k++) {
        const int32_t *kids;
        int32_t nk = children(a, p->order[k], &kids);
        nkids += nk;
        for (int32_t c = 0; c < nk; c++) {
            if (a->op[kids[c]] == MG_LEAF && !(a->flags[kids[c]] & SEEN)) {
                a->flags[kids[c]] |= SEEN;
                leaves[nl++] = kids[c];
            }
        }
    }
    for (int32_t k = 0; k < nl; k++)
        local[leaves[k]] = k;
    for (int32_t k = 0; k < p->n; k++) {
        local[p->order[k]] = nl + k;
        a->flags[p->order[k]] |= SEEN;
    }
    b->n = b->lookups = nl + p->n;  /* (both below the arena's capacity: no overflow) */
    b->nodes = calloc((size_t)(uint32_t)b->n, sizeof *b->nodes);
    b->kids = malloc((size_t)(nkids ? nkids : 1) * sizeof *b->kids);
    b->nkids = nkids;
    b->by_node = malloc((size_t)(uint32_t)b->n * 2 * sizeof *b->by_node);
    int status = b->nodes && b->kids && b->by_node ? MG_OK : MG_ENOMEM;
    int64_t at = 0;
    b->leaves = nl;
    for (int32_t j = 0; j < nl && status == MG_OK; j++)
        status = copy_node(b, a, j, leaves[j], &at, bad);
    for (int32_t k = 0; k < n_inputs && status == MG_OK; k++) {     /* the inputs: laned */
        int32_t x = inputs[k];
        if (!mg_alive(a, x) || !(a->flags[x] & SEEN) || a->op[x] != MG_LEAF
                || b->nodes[local[x]].laned) {
            *bad = k;
            status = MG_EINDEX;
        } else {
            b->input[k] = local[x];
            b->nodes[local[x]].laned = 1;
        }
    }
    for (int32_t j = nl; j < b->n && status == MG_OK; j++)
        status = copy_node(b, a, j, p->order[j - nl], &at, bad);
    for (int32_t k = 0; k < nl; k++)
        a->flags[leaves[k]] &= (uint8_t)~SEEN;
    for (int32_t k = 0; k < p->n; k++)
        a->flags[p->order[k]] &= (uint8_t)~SEEN;
    if (status == MG_OK)
        b->root = local[root];
    return status;
}

void mg_batch_free(mg_batch *b)
{
    if (!b)
        return;
    if (b->held >= 0)
        mg_release(b->a, &b->held, 1);
    LOCK_DESTROY(&b->lock);
    free(b->nodes);
    free(b->kids);
    free(b->input);
    free(b->xslot);
    free(b->wslot);
    free(b->kdot);
    free(b->kslot);
    free(b->kw);
    free(b->gshared);
    free(b->pnode);
    free(b->by_node);
    free(b->steps);
    free(b->ops);
    free(b->params);
    free(b->lanes);
    lanes_free(b->ldata);
    lanes_free(b->lgrad);
    lanes_free(b->xpack);
    free(b->lint);
    free(b->sdata);
    free(b->sgrad);
    free(b->sint);
    free(b->wpack);
    free(b->pgrad);
    free(b->wgrad);
    free(b);
}

int mg_batch_new(mg_arena *a, int32_t root, const int32_t *inputs, int32_t n, mg_batch **out,
                 int32_t *bad)
{
    if (!a || !out || !bad || n < 0 || (n > 0 && !inputs))
        return MG_EINDEX;
    *bad = -1;
    mg_batch *b = calloc(1, sizeof *b);
    if (!b || !(b->input = malloc((size_t)(n ? n : 1) * sizeof *b->input))) {
        free(b);
        return MG_ENOMEM;
    }
    b->a = a;
    b->inputs = n;
    b->held = -1;
    LOCK_INIT(&b->lock);
    LOCK(&a->lock);
    kernels();
    int status = mg_alive(a, root) ? copy_graph(b, a, root, inputs, n, bad) : MG_EINDEX;
    if (status == MG_OK) {
        a->refs[root]++;        /* the batch's own: its graph lives as long as it does */
        b->held = root;
    }
    UNLOCK(&a->lock);
    int fused = 0;
    if (status == MG_OK)
        status = fuse_chains(b, &fused);
    if (status == MG_OK)
        status = fused ? reorder(b) : MG_OK;
    for (int32_t j = 0; j < b->n && status == MG_OK; j++)
        b->nodes[j].slot = b->nodes[j].laned ? b->laned++ : b->shared++;
    if (status == MG_OK)
        status = find_tiles(b);
    if (status == MG_OK)
        status = make_lists(b);
    if (status == MG_OK) {
        qsort(b->by_node, (size_t)b->lookups, 2 * sizeof(int32_t), by_node);
        b->sdata = malloc((size_t)(b->shared + 1) * sizeof(double));
        b->sgrad = malloc((size_t)(b->shared + 1) * sizeof(double));
        b->sint = malloc((size_t)(b->shared + 1));
        b->wpack = calloc((size_t)(b->tiled + 1), sizeof(double));
        if (!b->sdata || !b->sgrad || !b->sint || !b->wpack)
            status = MG_ENOMEM;
    }
    if (status != MG_OK) {
        mg_batch_free(b);
        return status;
    }
    *out = b;
    return MG_OK;
}

/* ---------------------------------------------------------------- the run */

/* lanes for rows rows: all or nothing. A node's lanes are ROWS more than the rows
 * of its chunks: with lanes a power of two apart, the inputs of a row block would
 * share a few cache sets (4 of L1's 64 at 128 rows) and evict each other. */
static int reserve_rows(mg_batch *b, int64_t rows)
{
    int64_t chunks = (rows + CHUNK - 1) / CHUNK, cap = chunks * CHUNK + ROWS;
    if (cap <= b->cap)
        return MG_OK;
    if ((uint64_t)cap > SIZE_MAX / sizeof(double) / ((uint64_t)b->laned + 1)
            || (uint64_t)chunks > SIZE_MAX / sizeof(double) / ((uint64_t)(b->tiled + b->gslots) + 1))
        return MG_ENOMEM;                   /* more bytes than a size_t counts */
    size_t lanes = (size_t)b->laned * (size_t)cap;
    double *ld = lanes_alloc(lanes), *lg = lanes_alloc(lanes);
    uint8_t *li = malloc(lanes + 1);
    double *pg = malloc(((size_t)chunks * (size_t)b->gslots + 1) * sizeof *pg);
    double *wg = malloc(((size_t)chunks * (size_t)b->tiled + 1) * sizeof *wg);
    if (!ld || !lg || !li || !pg || !wg) {
        lanes_free(ld), lanes_free(lg), free(li), free(pg), free(wg);
        return MG_ENOMEM;
    }
    lanes_free(b->ldata), lanes_free(b->lgrad), free(b->lint), free(b->pgrad), free(b->wgrad);
    b->ldata = ld, b->lgrad = lg, b->lint = li, b->pgrad = pg, b->wgrad = wg;
    b->cap = cap;
    b->state = 0;               /* the lanes of the last run are gone */
    return MG_OK;
}

/* whether laned node j's lanes may hold a Python int this forward: its rule's is_int
 * could be true given its operands' (holds_int: a shared node's is known) */
static int may_int(const mg_batch *b, int32_t j)
{
    const bnode *n = &b->nodes[j];
    const int32_t *k = b->kids + n->k0;
    int all = 1;
    for (int32_t e = 0; e < n->nk; e++)
        all &= holds_int(b, k[e]);
    switch ((mg_op)n->op) {
    case MG_LEAF:
        return n->may_int;          /* an input: whether its column holds ints (forward) */
    case MG_RELU:
        return 1;                                   /* the int 0 */
    case MG_POW:
        return all && n->arg_int && n->arg >= 0;
    case MG_TANH: case MG_EXP: case MG_LOG: case MG_SIGMOID: case MG_LSE:
        return 0;
    case MG_PICK:                                   /* one of x's: any of them */
        for (int32_t e = 1; e < n->nk; e++)
            if (holds_int(b, k[e]))
                return 1;
        return 0;
    default:
        return all;             /* +, *, ** Value, dot: when their operands are ints */
    }
}

typedef struct {
    mg_batch *b;
    const double *x;
    const uint8_t *x_int;   /* NULL: every input is a float */
    double *scratch;        /* a tile's inputs, packed (lane_kernels.forward) */
    int64_t c0, c1;
    int backward;
    lane_fail fail;
} job;

static void *run_job(void *arg)
{
    job *w = arg;
    mg_batch *b = w->b;
    const lane_kernels *k = kernels();
    w->fail = (lane_fail){ MG_OK, -1, 0 };
    for (int64_t c = w->c0; c < w->c1; c++) {
        int64_t b0 = c * CHUNK, b1 = b0 + CHUNK < b->rows ? b0 + CHUNK : b->rows;
        if (!w->backward) {
            for (int64_t r0 = b0; r0 < b1; r0 += ROWS) {       /* the inputs' lanes, */
                int64_t r1 = r0 + ROWS < b1 ? r0 + ROWS : b1;  /* a line of each at a time */
                for (int32_t col = 0; col < b->inputs; col++) {
                    int64_t at = (int64_t)b->nodes[b->input[col]].slot * b->cap;
                    for (int64_t r = r0; r < r1; r++)
                        b->ldata[at + r] = w->x[r * b->inputs + col];
                    for (int64_t r = r0; w->x_int && r < r1; r++)
                        b->lint[at + r] = w->x_int[r * b->inputs + col];
                }
            }
            w->fail = k->forward(b, b0, b1, w->scratch);
            if (w->fail.status != MG_OK)
                break;
            continue;
        }
        for (int32_t l = 0; l < b->laned; l++)
            memset(b->lgrad + (int64_t)b->nodes[b->lanes[l]].slot * b->cap + b0, 0,
                   (size_t)(b1 - b0) * sizeof(double));
        memset(b->pgrad + c * b->gslots, 0, (size_t)b->gslots * sizeof(double));
        if (b->nodes[b->root].laned)
            for (int64_t r = b0; r < b1; r++)
                b->lgrad[(int64_t)b->nodes[b->root].slot * b->cap + r] = 1;   /* self.grad = 1 */
        k->backward(b, c, b0, b1);
    }
    return NULL;
}

#if defined(_WIN32) || defined(MG_NO_THREADS)
#define MAX_THREADS 1
#else
#define MAX_THREADS 64
#endif

/* every chunk, on up to threads threads (contiguous runs of chunks, the first on
 * the caller's); returns the failure of the first chunk that failed */
static lane_fail run_chunks(mg_batch *b, const double *x, const uint8_t *x_int, int backward,
                            int threads)
{
    int64_t chunks = (b->rows + CHUNK - 1) / CHUNK;
    int t = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if (t > chunks)
        t = (int)chunks;
    if (b->work * b->rows < (1 << 17))  /* less than a thread's start costs */
        t = 1;
    size_t scratch = (size_t)b->most * CHUNK;       /* doubles per thread */
    if (!backward && (size_t)t * scratch > b->xpacked) {
        double *more = lanes_alloc((size_t)t * scratch);
        if (!more)
            return (lane_fail){ MG_ENOMEM, -1, 0 };
        lanes_free(b->xpack);
        b->xpack = more;
        b->xpacked = (size_t)t * scratch;
    }
    job jobs[MAX_THREADS];
    for (int q = 0; q < t; q++)
        jobs[q] = (job){ b, x, x_int, b->xpack ? b->xpack + q * scratch : NULL, chunks * q / t, chunks * (q + 1) / t,
                         backward, { MG_OK, -1, 0 } };
#if MAX_THREADS > 1
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = { 0 };
    for (int q = 1; q < t; q++)
        started[q] = pthread_create(&ids[q], NULL, run_job, &jobs[q]) == 0;
    for (int q = 1; q < t; q++)
        if (!started[q])
            run_job(&jobs[q]);          /* no thread to be had: run it here */
    run_job(&jobs[0]);
    for (int q = 1; q < t; q++)
        if (started[q])
            pthread_join(ids[q], NULL);
#else
    run_job(&jobs[0]);
#endif
    for (int q = 0; q < t; q++)
        if (jobs[q].fail.status != MG_OK)
            return jobs[q].fail;
    return (lane_fail){ MG_OK, -1, 0 };
}

/* operand e (0 or 1) of node j on row r (shared: row ignored), or its constant */
static mg_number operand(const mg_batch *b, int32_t j, int e, int64_t r)
{
    const bnode *n = &b->nodes[j];
    if (e >= n->nk || (e == 1 && arity[n->op] == 1))
        return (mg_number){ n->arg, n->arg_int };
    const bnode *c = &b->nodes[b->kids[n->k0 + e]];
    if (!c->laned)
        return (mg_number){ b->sdata[c->slot], b->sint[c->slot] };
    int64_t at = (int64_t)c->slot * b->cap + r;
    return (mg_number){ b->ldata[at], c->may_int && b->lint[at] };
}

int mg_batch_forward(mg_batch *b, const double *x, const uint8_t *x_int, int64_t rows,
                     int threads, double *out, int32_t *bad_node, int64_t *bad_row,
                     mg_number *bad_args)
{
    if (!b || rows < 0 || (rows > 0 && !x) || !bad_node || !bad_row || !bad_args)
        return MG_EINDEX;
    *bad_node = -1;
    *bad_row = -1;
    LOCK(&b->lock);
    int status = reserve_rows(b, rows);
    mg_arena *a = b->a;
    if (status == MG_OK) {
        LOCK(&a->lock);                 /* the parameters, as they are now */
        for (int32_t k = 0; k < b->nparams; k++) {      /* shared leaf k: slot k */
            b->sdata[k] = a->data[b->pnode[k]];
            b->sint[k] = (a->flags[b->pnode[k]] & MG_DATA_INT) != 0;
        }
        /* a Python rule set since the batch was made: on a leaf (python_leaves counts
         * them), or on a node above the leaves */
        for (int32_t j = a->python_leaves ? 0 : b->leaves; j < b->n; j++) {
            if (a->flags[b->nodes[j].node] & MG_PYTHON) {
                *bad_node = b->nodes[j].node;
                status = MG_EPYTHON;
                break;
            }
        }
        UNLOCK(&a->lock);
    }
    b->state = 0;
    b->rows = rows;
    const lane_kernels *k = kernels();
    lane_fail f = { status, -1, -1 };
    for (int32_t col = 0; col < b->inputs; col++) {    /* a column of ints: its lanes' flags */
        uint8_t ints = 0;
        for (int64_t r = 0; x_int && r < rows; r++)
            ints |= x_int[r * b->inputs + col];
        b->nodes[b->input[col]].may_int = ints != 0;
    }
    if (status == MG_OK)
        f = k->shared_forward(b);
    for (int32_t s = 0; s < b->nsteps && f.status == MG_OK; s++) {
        bnode *n = &b->nodes[b->steps[s]];
        if (n->tile > 0) {                      /* the tile's weights */
            uint8_t ints = 0;
            for (int64_t w = n->wat; w < n->wat + TILE * (int64_t)((n->nk - 1) / 2); w++) {
                if (b->wslot[w] >= 0) {
                    b->wpack[w] = b->sdata[b->wslot[w]];
                    ints |= b->sint[b->wslot[w]];
                }
            }
            n->ints = ints;     /* an int weight: its dots run one by one (lanes.h) */
        }
        for (int q = 0; q < (n->tile > 0 ? n->tile : 1); q++)
            n[q].may_int = n->tile > 0 && !n->ints ? 0 : (uint8_t)may_int(b, b->steps[s] + q);
    }
    if (f.status == MG_OK && rows > 0)
        f = run_chunks(b, x, x_int, 0, threads);
    if (f.status != MG_OK && status == MG_OK) {
        *bad_node = b->nodes[f.at].node;
        *bad_row = b->nodes[f.at].laned ? f.row : -1;
        for (int e = 0; e < 2; e++)
            bad_args[e] = operand(b, f.at, e, f.row);
    }
    status = f.status;
    if (status == MG_OK) {
        b->state = 1;
        const bnode *root = &b->nodes[b->root];
        for (int64_t r = 0; out && r < rows; r++)
            out[r] = root->laned ? b->ldata[(int64_t)root->slot * b->cap + r]
                                 : b->sdata[root->slot];
    }
    UNLOCK(&b->lock);
    return status;
}

int mg_batch_backward(mg_batch *b, int mean, int threads)
{
    if (!b)
        return MG_EINDEX;
    LOCK(&b->lock);
    if (b->state == 0) {
        UNLOCK(&b->lock);
        return MG_EINDEX;               /* no forward to go back through */
    }
    const lane_kernels *k = kernels();
    if (b->rows > 0)
        run_chunks(b, NULL, NULL, 1, threads);
    int64_t chunks = (b->rows + CHUNK - 1) / CHUNK;
    memset(b->sgrad, 0, (size_t)b->shared * sizeof *b->sgrad);
    if (!b->nodes[b->root].laned)
        b->sgrad[b->nodes[b->root].slot] = (double)b->rows;    /* 1 on every row */
    for (int32_t g = 0; g < b->gslots; g++)     /* the chunks' sums, in order */
        for (int64_t c = 0; c < chunks; c++)
            b->sgrad[b->gshared[g]] += b->pgrad[c * b->gslots + g];
    for (int64_t w = 0; w < b->tiled; w++) {    /* the tiles' weights */
        if (b->wslot[w] < 0)
            continue;
        double sum = 0;
        for (int64_t c = 0; c < chunks; c++)
            sum += b->wgrad[c * b->tiled + w];
        b->sgrad[b->wslot[w]] += sum;
    }
    k->shared_backward(b);
    mg_arena *a = b->a;
    double scale = mean && b->rows > 0 ? (double)b->rows : 1;
    LOCK(&a->lock);
    for (int32_t k = 0; k < b->nparams; k++)    /* shared leaf k: slot k (held: alive) */
        add_grad(a, b->pnode[k], real(b->sgrad[k] / scale));
    UNLOCK(&a->lock);
    b->mean = mean;
    b->state = 2;
    UNLOCK(&b->lock);
    return MG_OK;
}

int mg_batch_read(mg_batch *b, int field, const int32_t *idx, int32_t n, int64_t rows,
                  double *out, int32_t *bad)
{
    if (!b || n < 0 || (n > 0 && (!idx || !out)) || !bad || (field != MG_DATA && field != MG_GRAD))
        return MG_EINDEX;
    *bad = -1;
    LOCK(&b->lock);
    int status = b->state >= (field == MG_DATA ? 1 : 2) ? MG_OK : MG_EINDEX;
    if (status == MG_OK && rows != b->rows)
        status = MG_ERANGE;         /* another forward since: out has room for rows rows */
    for (int32_t k = 0; k < n && status == MG_OK; k++) {
        int32_t j = local_of(b, idx[k]);
        if (j < 0) {
            *bad = k;
            status = j == -1 ? MG_EINDEX : MG_EOP;
        }
    }
    double scale = field == MG_GRAD && b->mean && b->rows > 0 ? (double)b->rows : 1;
    for (int32_t k = 0; k < n && status == MG_OK; k++) {
        const bnode *v = &b->nodes[local_of(b, idx[k])];
        const double *lanes = field == MG_DATA ? b->ldata : b->lgrad;
        double shared = (field == MG_DATA ? b->sdata : b->sgrad)[v->slot];
        for (int64_t r = 0; r < b->rows; r++)
            out[r * n + k] = v->laned ? lanes[(int64_t)v->slot * b->cap + r] / scale
                                      : shared / scale;
    }
    UNLOCK(&b->lock);
    return status;
}
