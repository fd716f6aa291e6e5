/* batch_graph.c: making a Batch (mg_batch_new): root's graph copied in its kept order
 * (plan.c), leaves first, split into laned nodes (those that depend on an input) and
 * shared ones; chains of + over products fused into dots; the tiles (dots over the
 * same inputs with shared weights: a layer's neurons); the walks' lists.
 * Not here: running it (batch.c), the kernels (lanes.h).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"

static int by_node(const void *x, const void *y)
{
    const int32_t *p = x, *q = y;
    return (p[0] > q[0]) - (p[0] < q[0]);
}

/* j's local index for arena node i, -1 for a node not in the graph, -2 for one that
 * is not run */
int32_t local_of(const mg_batch *b, int32_t i)
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
    b->lanes = malloc(n * sizeof(int32_t));
    b->pnode = malloc(n * sizeof(int32_t));
    if (!b->steps || !b->ops || !b->lanes || !b->pnode)
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
            b->nparams++;
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
