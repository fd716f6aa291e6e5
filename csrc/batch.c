/* batch.c: a Batch's run (mg.h, "batch"): its lanes, the kernel set, forward and
 * backward over chunks of rows on threads, the sums over rows, reading lanes out.
 *
 * A forward reads the shared leaves from the arena (the parameters, never written),
 * computes the shared nodes once, then every chunk of CHUNK rows on a thread of its
 * own; a backward runs the chunks, adds each shared node's grad over the chunks in
 * order, runs the shared nodes' backward and adds the shared leaves' grads to the
 * arena. Not here: making a Batch from a graph (batch_graph.c), what a node computes
 * over lanes (lanes.h, one copy per CPU target).
 * Locks: the Batch's own for its buffers; the arena's only to read the parameters
 * and to add the grads: other threads may build meanwhile.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "eval.h"

/* ---------------------------------------------------------------- kernels */

static const lane_kernels *chosen;

/* the kernels of the best target this CPU has, or MG_KERNELS's (baseline, avx2,
 * avx512) if the CPU has it. Chosen once (under the arena's lock or the GIL). */
const lane_kernels *kernels(void)
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
        const double *from = v->laned ? (field == MG_DATA ? b->ldata : b->lgrad)
                                          + (int64_t)v->slot * b->cap
                                      : (field == MG_DATA ? b->sdata : b->sgrad) + v->slot;
        for (int64_t r = 0; r < b->rows; r++)
            out[r * n + k] = from[v->laned ? r : 0] / scale;     /* a shared node: every row */
    }
    UNLOCK(&b->lock);
    return status;
}
