/* lanes.h: the lane kernels, the reference file compiled once per CPU target.
 *
 * lanes_baseline.c, lanes_avx2.c and lanes_avx512.c each set their target (a #pragma)
 * and TARGET, then include this file: one source, one kernel table per target
 * (lane_kernels, batch.h). Every op's lanes are computed by its rule from rules.h,
 * the scalar engine's own (`out[r] = mul_forward(x[r], y[r])`), with eval.h's handling
 * of Python's ints; the op switches are generated from ops.def, so an op's lanes exist
 * once it has a row and its NARY rule has a `<rule>_lanes_forward` here. No FMA and no
 * reassociation: every target gives the same bits, and each row the bits of the scalar
 * engine. Where vectors pay:
 *   - a tile: TILE dots over the same inputs (a layer's neurons), ROWS rows at a time
 *     in vector registers, each row's sum in micrograd's order b + w0*x0 + w1*x1 + ...;
 *     its backward the inputs' grads (the last neuron's term first, as backward() adds
 *     them) and the weights' grads summed over the rows of a chunk in ROWS partial sums;
 *   - + and * over floats, the tiles' loops: plain loops over contiguous lanes.
 * Ops that call libm (tanh, exp, log, pow, sigmoid) call it once per lane: the same
 * function as the scalar engine, so the same bits.
 */
#include <string.h>
#include "batch.h"
#include "eval.h"

#define KERNELS_(t) lanes_##t
#define KERNELS(t) KERNELS_(t)
#define NAME_(t) #t
#define NAME(t) NAME_(t)

/* Four rows of one node: a register of AVX2 (two of SSE2). ROWS rows are two of them.
 * Only inline functions take or return them, so GCC's note that such an argument's
 * ABI differs between targets (-Wpsabi) concerns no call that is made. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef double v4 __attribute__((vector_size(4 * sizeof(double))));
_Static_assert(ROWS == 8, "a register tile is two v4 of rows; sum8 adds 8 partial sums");

static HOT_INLINE v4 load4(const double *p)
{
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static HOT_INLINE void store4(double *p, const v4 *v) { memcpy(p, v, sizeof *v); }

static HOT_INLINE v4 broadcast4(double x) { return (v4){ x, x, x, x }; }

/* the fixed order of a sum over a chunk's rows: ROWS partial sums (row r in the
 * (r - b0) % ROWS-th: lo's four, then hi's), added pairwise; the same bits on every
 * target */
static HOT_INLINE double sum8(const v4 *low, const v4 *high)
{
    v4 lo = *low, hi = *high;
    return ((lo[0] + lo[1]) + (lo[2] + lo[3])) + ((hi[0] + hi[1]) + (hi[2] + hi[3]));
}

/* an operand: row r's number is v[r * s] (s is 0 for a shared node), and its int flag
 * i[r * s] (i NULL: a float on every row) */
typedef struct {
    const double *v;
    const uint8_t *i;
    int64_t s;
} lane_in;

typedef struct {
    double *v;
    uint8_t *i;
    int64_t s;
} lane_out;

static HOT_INLINE lane_in in_of(const mg_batch *b, int32_t j)
{
    const bnode *n = &b->nodes[j];
    if (n->laned) {
        int64_t at = (int64_t)n->slot * b->cap;
        return (lane_in){ b->ldata + at, n->may_int ? b->lint + at : NULL, 1 };
    }
    return (lane_in){ b->sdata + n->slot, b->sint[n->slot] ? b->sint + n->slot : NULL, 0 };
}

static HOT_INLINE lane_out out_of(mg_batch *b, int32_t j)
{
    const bnode *n = &b->nodes[j];
    if (n->laned) {
        int64_t at = (int64_t)n->slot * b->cap;
        return (lane_out){ b->ldata + at, n->may_int ? b->lint + at : NULL, 1 };
    }
    return (lane_out){ b->sdata + n->slot, b->sint + n->slot, 0 };
}

static HOT_INLINE mg_number num(lane_in x, int64_t r)
{
    return number(x.v[r * x.s], x.i ? x.i[r * x.s] : 0);
}

static HOT_INLINE lane_fail failed(int status, int32_t at, int64_t row)
{
    return (lane_fail){ status, at, row };
}

static HOT_INLINE void put(lane_out o, int64_t r, mg_result res)
{
    o.v[r * o.s] = res.value;
    if (o.i)
        o.i[r * o.s] = (uint8_t)res.is_int;
}

/* rows b0..b1 of node j: each row's result of `expr` (an mg_result of row r), what
 * Python makes of it, and the first failing row */
#define EACH_ROW(expr)                                                                  \
    for (int64_t r = b0; r < b1; r++) {                                                 \
        mg_result res = python_result(expr);                                            \
        put(o, r, res);                                                                 \
        if (res.status != MG_OK)                                                        \
            return failed(res.status, j, r);                                            \
    }

/* + and * over floats, neither operand an int: the rule as a plain loop over lanes
 * (only these two: they cannot fail, and their result is a float) */
#define FLOAT_ROWS(rule)                                                                \
    if (o.s && !x.i && !y.i) {                                                          \
        if (x.s && y.s)                                                                 \
            for (int64_t r = b0; r < b1; r++)                                           \
                o.v[r] = rule##_forward(real(x.v[r]), real(y.v[r])).value;              \
        else if (x.s)                                                                   \
            for (int64_t r = b0; r < b1; r++)                                           \
                o.v[r] = rule##_forward(real(x.v[r]), real(y.v[0])).value;              \
        else                                                                            \
            for (int64_t r = b0; r < b1; r++)                                           \
                o.v[r] = rule##_forward(real(x.v[0]), real(y.v[r])).value;              \
        return failed(MG_OK, j, 0);                                                     \
    }

/* ---------------------------------------------------------------- n-ary ops */

/* dot over lanes, any operands (a tile runs the common case): dot_step per row */
static lane_fail dot_lanes_forward(mg_batch *b, int32_t j, int64_t b0, int64_t b1)
{
    const bnode *n = &b->nodes[j];
    const int32_t *k = b->kids + n->k0;
    lane_out o = out_of(b, j);
    lane_in start = in_of(b, k[0]);
    mg_result s[CHUNK];
    for (int64_t r = b0; r < b1; r++)
        s[r - b0] = result(start.v[r * start.s], start.i ? start.i[r * start.s] : 0);
    for (int32_t e = 1; e + 1 < n->nk; e += 2) {
        lane_in w = in_of(b, k[e]), x = in_of(b, k[e + 1]);
        for (int64_t r = b0; r < b1; r++)
            if (s[r - b0].status == MG_OK)
                s[r - b0] = dot_step(s[r - b0], num(w, r), num(x, r));
    }
    EACH_ROW(s[r - b0])
    return failed(MG_OK, j, 0);
}

/* logsumexp over lanes: lse_forward_n's steps, each over every row */
static lane_fail lse_lanes_forward(mg_batch *b, int32_t j, int64_t b0, int64_t b1)
{
    const bnode *n = &b->nodes[j];
    const int32_t *k = b->kids + n->k0;
    lane_out o = out_of(b, j);
    double m[CHUNK], sum[CHUNK];
    for (int64_t r = b0; r < b1; r++) {
        m[r - b0] = -INFINITY;
        sum[r - b0] = 0;
    }
    for (int32_t e = 0; e < n->nk; e++) {
        lane_in x = in_of(b, k[e]);
        for (int64_t r = b0; r < b1; r++)
            m[r - b0] = lse_max(m[r - b0], x.v[r * x.s]);
    }
    for (int32_t e = 0; e < n->nk; e++) {
        lane_in x = in_of(b, k[e]);
        for (int64_t r = b0; r < b1; r++)
            if (isfinite(m[r - b0]))
                sum[r - b0] += lse_term(x.v[r * x.s], m[r - b0]);
    }
    EACH_ROW(result(isfinite(m[r - b0]) ? lse_value(m[r - b0], sum[r - b0]) : m[r - b0], 0))
    return failed(MG_OK, j, 0);
}

/* pick over lanes: each row's index from t's lane (pick_index), then that row of x[t] */
static lane_fail pick_lanes_forward(mg_batch *b, int32_t j, int64_t b0, int64_t b1)
{
    const bnode *n = &b->nodes[j];
    const int32_t *k = b->kids + n->k0;
    lane_out o = out_of(b, j);
    lane_in t = in_of(b, k[0]);
    for (int64_t r = b0; r < b1; r++) {
        int32_t e;
        int status = pick_index(t.v[r * t.s], n->nk - 1, &e);
        if (status != MG_OK)
            return failed(status, j, r);
        put(o, r, python_result(pick_forward(num(in_of(b, k[1 + e]), r))));
    }
    return failed(MG_OK, j, 0);
}

static lane_fail py_lanes_forward(mg_batch *b, int32_t j, int64_t b0, int64_t b1)
{
    (void)b, (void)b0, (void)b1;
    return failed(MG_EPYTHON, j, 0);    /* never in a Batch: mg_batch_new refuses it */
}

/* ---------------------------------------------------------------- one node */

#define LANES_LEAF(rule)   return failed(MG_OK, j, 0);     /* inputs: copied in */
#define LANES_INFIX(rule)  { FLOAT_ROWS_##rule EACH_ROW(rule##_forward(num(x, r), num(y, r))) \
                             return failed(MG_OK, j, 0); }
#define LANES_CALL(rule)   { EACH_ROW(rule##_forward(num(x, r))) return failed(MG_OK, j, 0); }
#define LANES_NARY(rule)   return rule##_lanes_forward(b, j, b0, b1);
#define LANES_PYTHON(rule) return rule##_lanes_forward(b, j, b0, b1);
#define FLOAT_ROWS_add FLOAT_ROWS(add)
#define FLOAT_ROWS_mul FLOAT_ROWS(mul)
#define FLOAT_ROWS_pow

/* rows b0..b1 of node j by its op's rule */
static lane_fail node_forward(mg_batch *b, int32_t j, int64_t b0, int64_t b1)
{
    const bnode *n = &b->nodes[j];
    const int32_t *k = b->kids + n->k0;
    double c = n->arg;
    uint8_t ci = n->arg_int;
    lane_in constant = { &c, &ci, 0 };
    lane_in x = n->nk > 0 ? in_of(b, k[0]) : constant;
    lane_in y = n->nk > 1 && arity[n->op] == 2 ? in_of(b, k[1]) : constant;
    lane_out o = out_of(b, j);
    (void)x, (void)y, (void)o;
    switch ((mg_op)n->op) {
#define OP(name, label, arity, kind, rule) case name: LANES_##kind(rule)
#include "ops.def"
#undef OP
    case MG_OP_COUNT: break;
    }
    return failed(MG_EOP, j, 0);
}

static double sum_rows(const double *t, int64_t n)
{
    v4 lo = { 0 }, hi = { 0 };
    int64_t r = 0;
    for (; r + ROWS <= n; r += ROWS) {
        lo = lo + load4(t + r);
        hi = hi + load4(t + r + 4);
    }
    for (; r < n; r++) {
        if (r % ROWS < 4)
            lo[r % ROWS] += t[r];
        else
            hi[r % ROWS - 4] += t[r];
    }
    return sum8(&lo, &hi);
}

/* ---------------------------------------------------------------- backward */

/* node c receives t[r - b0] on rows b0..b1: a laned node in its lanes, a shared one
 * their sum (in chunk's partial sums; chunk < 0: the shared pass, straight in sgrad) */
static void give(mg_batch *b, int32_t c, const double *t, int64_t b0, int64_t b1, int64_t chunk)
{
    const bnode *n = &b->nodes[c];
    if (n->laned) {
        double *g = b->lgrad + (int64_t)n->slot * b->cap;
        for (int64_t r = b0; r < b1; r++)
            g[r] += t[r - b0];
    } else if (chunk < 0) {
        b->sgrad[n->slot] += t[0];
    } else {
        b->pgrad[chunk * b->gslots + n->gslot] += sum_rows(t, b1 - b0);
    }
}

static HOT_INLINE const double *grad_of(const mg_batch *b, int32_t j)
{
    const bnode *n = &b->nodes[j];
    return n->laned ? b->lgrad + (int64_t)n->slot * b->cap : b->sgrad + n->slot;
}

/* node j's backward rule on rows b0..b1, its grad passed on to its operands, each
 * term by the op's rule (grads are floats in lanes: micrograd's int grads are the
 * same numbers) */
#define TERMS(child, expr) {                                                            \
        for (int64_t r = b0; r < b1; r++)                                               \
            t[r - b0] = (expr).value;                                                   \
        give(b, child, t, b0, b1, chunk);                                               \
    }
#define BACK_LEAF(rule, arity)
#define BACK_INFIX(rule, arity) {                                                       \
        TERMS(k[0], rule##_dx(num(x, r), num(y, r), o.v[r * o.s], real(g[r * gs])))     \
        if (arity == 2)                                                                 \
            TERMS(k[1], rule##_dy(num(x, r), num(y, r), o.v[r * o.s], real(g[r * gs]))) \
    }
#define BACK_CALL(rule, arity) TERMS(k[0], rule##_dx(num(x, r), o.v[r * o.s], real(g[r * gs])))
#define BACK_NARY(rule, arity) rule##_lanes_backward(b, j, b0, b1, chunk, g, gs, t);
#define BACK_PYTHON(rule, arity) rule##_lanes_backward(b, j, b0, b1, chunk, g, gs, t);

static void dot_lanes_backward(mg_batch *b, int32_t j, int64_t b0, int64_t b1, int64_t chunk,
                               const double *g, int64_t gs, double *t)
{
    const int32_t *k = b->kids + b->nodes[j].k0;
    TERMS(k[0], add_dx(real(0), real(0), 0, real(g[r * gs])))    /* the first sum */
    for (int32_t e = 1; e + 1 < b->nodes[j].nk; e += 2) {
        lane_in w = in_of(b, k[e]), x = in_of(b, k[e + 1]);
        TERMS(k[e], mul_dx(num(w, r), num(x, r), 0, real(g[r * gs])))
        TERMS(k[e + 1], mul_dy(num(w, r), num(x, r), 0, real(g[r * gs])))
    }
}

static void lse_lanes_backward(mg_batch *b, int32_t j, int64_t b0, int64_t b1, int64_t chunk,
                               const double *g, int64_t gs, double *t)
{
    const int32_t *k = b->kids + b->nodes[j].k0;
    lane_in o = in_of(b, j);
    for (int32_t e = 0; e < b->nodes[j].nk; e++) {
        lane_in x = in_of(b, k[e]);
        TERMS(k[e], lse_dx(num(x, r), o.v[r * o.s], real(g[r * gs])))
    }
}

/* each x gets g on the rows that picked it (0 on the others) */
static void pick_lanes_backward(mg_batch *b, int32_t j, int64_t b0, int64_t b1, int64_t chunk,
                                const double *g, int64_t gs, double *t)
{
    const int32_t *k = b->kids + b->nodes[j].k0;
    int32_t nk = b->nodes[j].nk;
    lane_in ti = in_of(b, k[0]), o = in_of(b, j);
    for (int32_t e = 1; e < nk; e++) {
        lane_in x = in_of(b, k[e]);
        for (int64_t r = b0; r < b1; r++) {
            int32_t pick;
            int picked = pick_index(ti.v[r * ti.s], nk - 1, &pick) == MG_OK && pick == e - 1;
            t[r - b0] = picked ? pick_dx(num(x, r), o.v[r * o.s], real(g[r * gs])).value : 0;
        }
        give(b, k[e], t, b0, b1, chunk);
    }
}

static void py_lanes_backward(mg_batch *b, int32_t j, int64_t b0, int64_t b1, int64_t chunk,
                              const double *g, int64_t gs, double *t)
{
    (void)b, (void)j, (void)b0, (void)b1, (void)chunk, (void)g, (void)gs, (void)t;
}

static void node_backward(mg_batch *b, int32_t j, int64_t b0, int64_t b1, int64_t chunk)
{
    const bnode *n = &b->nodes[j];
    const int32_t *k = b->kids + n->k0;
    double c = n->arg, t[CHUNK];
    uint8_t ci = n->arg_int;
    t[0] = 0;                   /* (rows b0..b1 are never empty: for -Wmaybe-uninitialized) */
    lane_in constant = { &c, &ci, 0 };
    lane_in x = n->nk > 0 ? in_of(b, k[0]) : constant;
    lane_in y = n->nk > 1 && arity[n->op] == 2 ? in_of(b, k[1]) : constant;
    lane_in o = in_of(b, j);
    const double *g = grad_of(b, j);
    int64_t gs = n->laned;
    (void)x, (void)y, (void)o, (void)t, (void)k;
    switch ((mg_op)n->op) {
#define OP(name, label, arity, kind, rule) case name: BACK_##kind(rule, arity) break;
#include "ops.def"
#undef OP
    case MG_OP_COUNT:
        break;
    }
}

#include "tiles.h"      /* the tiles: a layer's dots at once */

/* ---------------------------------------------------------------- the walks */

/* rows b0..b1 (one chunk) of every laned node, children first */
static lane_fail chunk_forward(mg_batch *b, int64_t b0, int64_t b1, double *xp)
{
    int64_t packed = -1;            /* whose inputs xp holds: a tile's xat */
    for (int32_t s = 0; s < b->nsteps; s++) {
        int32_t j = b->steps[s];
        if (b->nodes[j].tile > 0 && !b->nodes[j].ints) {
            if (b->nodes[j].xat != packed)
                pack_inputs(b, j, b0, b1, xp);
            packed = b->nodes[j].xat;
            tile_forward(b, j, b0, b1, xp);
            continue;
        }
        int nt = b->nodes[j].tile > 0 ? b->nodes[j].tile : 1;
        for (int q = 0; q < nt; q++) {      /* (a tile with an int weight: one by one) */
            lane_fail f = node_forward(b, j + q, b0, b1);
            if (f.status != MG_OK)
                return f;
        }
    }
    return failed(MG_OK, -1, 0);
}

/* the backward of chunk's rows b0..b1, parents first; the grads of its laned nodes
 * were reset, root's seeded */
static void chunk_backward(mg_batch *b, int64_t chunk, int64_t b0, int64_t b1)
{
    for (int32_t s = b->nsteps - 1; s >= 0; s--) {
        int32_t j = b->steps[s];
        if (b->nodes[j].tile == 0) {
            node_backward(b, j, b0, b1, chunk);
            continue;
        }
        int32_t s0 = s;             /* the layer: the tiles before it over its inputs */
        while (s0 > 0 && b->nodes[b->steps[s0 - 1]].tile > 0
                && b->nodes[b->steps[s0 - 1]].xat == b->nodes[j].xat)
            s0--;
        layer_backward(b, s0, s, b0, b1, chunk);
        s = s0;
    }
}

/* the nodes that depend on no input, once: one lane each */
static lane_fail shared_forward(mg_batch *b)
{
    for (int32_t s = 0; s < b->nops; s++) {
        lane_fail f = node_forward(b, b->ops[s], 0, 1);
        if (f.status != MG_OK)
            return f;
    }
    return failed(MG_OK, -1, 0);
}

static void shared_backward(mg_batch *b)
{
    for (int32_t s = b->nops - 1; s >= 0; s--)
        node_backward(b, b->ops[s], 0, 1, -1);
}

INTERNAL const lane_kernels KERNELS(TARGET) = {
    NAME(TARGET), chunk_forward, chunk_backward, shared_forward, shared_backward
};
