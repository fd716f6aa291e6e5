/* arena_harness.c: every function of csrc/mg.h, for `make sanitize`, in plain C.
 *
 * Compiled with -fsanitize=address,undefined and linked with the csrc C files directly,
 * so LeakSanitizer can run (under CPython it cannot: the interpreter leaks at exit
 * by design). It creates, grows, limits, reuses and frees arenas and graphs,
 * drives every error path, and exits non-zero on the first wrong status or number.
 * Not a test of the math (tests/ compare that with PyTorch and finite differences).
 * It links every C file of csrc, so optim.c's optimizers are exercised here too.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mg.h"

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "arena_harness.c:%d: CHECK failed: %s\n", __LINE__, #cond); failures++; } } while (0)

static double get(mg_arena *a, int32_t i, int field)
{
    mg_number n = { 0, 0 };
    CHECK(mg_get(a, i, field, &n) == MG_OK);
    return n.value;
}

static int32_t push(mg_arena *a, int op, int32_t l, int32_t r, double arg)
{
    int32_t i = mg_push(a, op, l, r, arg, 0);
    CHECK(i >= 0);
    return i;
}

static int64_t live(mg_arena *a)
{
    mg_stats s;
    mg_arena_stats(a, &s);
    CHECK(s.bytes == s.cap * s.bytes_per_node);
    return s.live;
}

/* every status has a message; every op a name, an arity and a kind */
static void names(void)
{
    CHECK(mg_abi_version() == MG_ABI_VERSION);
    for (int s = 0; s <= MG_STATUS_COUNT; s++)
        CHECK(strlen(mg_strerror(s)) > 0);
    CHECK(strlen(mg_strerror(-1)) > 0);
    for (int op = -1; op <= MG_OP_COUNT; op++)
        CHECK(mg_op_name(op) != NULL);
    for (int op = 0; op < MG_OP_COUNT; op++) {    /* every op has an arity and a kind */
        CHECK(mg_op_arity(op) >= -1 && mg_op_arity(op) <= 2);
        CHECK(mg_op_kind(op) >= 0 && mg_op_kind(op) < MG_KIND_COUNT);
    }
    CHECK(mg_op_arity(-1) == -2 && mg_op_arity(MG_OP_COUNT) == -2);
    CHECK(mg_op_kind(-1) == -1 && mg_op_kind(MG_OP_COUNT) == -1);
    CHECK(mg_op_arity(MG_LEAF) == 0 && mg_op_kind(MG_LEAF) == MG_KIND_LEAF);
    CHECK(mg_op_arity(MG_POW) == 1 && mg_op_kind(MG_POW) == MG_KIND_INFIX);
    CHECK(mg_op_arity(MG_DOT) == -1 && mg_op_kind(MG_PY) == MG_KIND_PYTHON);
}

/* one node of every op, backward through all of them, then everything released */
static void every_op(void)
{
    mg_arena *a = mg_arena_new(0);
    CHECK(a != NULL);
    int32_t x = push(a, MG_LEAF, -1, -1, 0.5), y = push(a, MG_LEAF, -1, -1, 2.0);
    int32_t nodes[MG_OP_COUNT + 2], n = 0;
    nodes[n++] = push(a, MG_ADD, x, y, 0);
    nodes[n++] = push(a, MG_MUL, x, y, 0);
    nodes[n++] = push(a, MG_POW, x, -1, 3);
    nodes[n++] = push(a, MG_RELU, x, -1, 0);
    nodes[n++] = push(a, MG_TANH, x, -1, 0);
    nodes[n++] = push(a, MG_EXP, x, -1, 0);
    nodes[n++] = push(a, MG_LOG, x, -1, 0);
    nodes[n++] = push(a, MG_SIGMOID, x, -1, 0);
    nodes[n++] = push(a, MG_POWV, y, x, 0);
    nodes[n++] = push(a, MG_MUL, x, MG_CONST, 3.0);   /* x * 3.0: a new leaf inside */
    CHECK(get(a, nodes[n - 1], MG_DATA) == 0.5 * 3.0);
    int32_t sum = nodes[0];
    for (int k = 1; k < n; k++) {
        int32_t next = push(a, MG_ADD, sum, nodes[k], 0);
        if (k > 1)
            CHECK(mg_release(a, &sum, 1) == MG_OK);   /* next holds it now */
        sum = next;
    }
    CHECK(mg_backward(a, sum) == MG_OK);
    CHECK(mg_backward(a, sum) == MG_OK);      /* twice: leaves accumulate */
    CHECK(isfinite(get(a, x, MG_GRAD)) && isfinite(get(a, y, MG_GRAD)));
    CHECK(get(a, nodes[2], MG_ARG) == 3);
    CHECK(mg_value(a, nodes[0], MG_DATA) == 2.5 && mg_is_int(a, nodes[2], MG_ARG) == 0);
    CHECK(isnan(mg_value(a, 99999, MG_DATA)) && mg_is_int(a, 99999, MG_DATA) == 0);
    int op; int32_t l, r;
    CHECK(mg_node(a, nodes[8], &op, &l, &r) == MG_OK && op == MG_POWV && l == y && r == x);
    CHECK(mg_set(a, x, MG_DATA, 0.25, 0) == MG_OK && get(a, x, MG_DATA) == 0.25);
    CHECK(mg_set(a, x, MG_GRAD, 7, 1) == MG_OK && get(a, x, MG_GRAD) == 7);
    mg_number label;
    CHECK(mg_set(a, x, MG_LABEL, 0, 1) == MG_OK);
    CHECK(mg_get(a, x, MG_LABEL, &label) == MG_OK && label.is_int == 1);
    int32_t params[2] = { x, y };
    CHECK(mg_zero_grad(a, params, 2) == MG_OK && get(a, y, MG_GRAD) == 0);
    /* the intermediate nodes are held only by sum (and each other) */
    CHECK(mg_release(a, nodes, n) == MG_OK);
    CHECK(live(a) == 2 + n + 1 + (n - 1));      /* + the constant leaf */
    CHECK(mg_release(a, &sum, 1) == MG_OK);
    CHECK(live(a) == 2);
    CHECK(mg_release(a, params, 2) == MG_OK && live(a) == 0);
    mg_arena_free(a);
}

/* every error status, and that none of them changes the graph */
static void errors(void)
{
    mg_arena *a = mg_arena_new(16);
    mg_number num;
    int op; int32_t l, r;
    int32_t zero = push(a, MG_LEAF, -1, -1, 0.0), neg = push(a, MG_LEAF, -1, -1, -2.0);
    int32_t big = push(a, MG_LEAF, -1, -1, 1e300);
    int64_t before = live(a);
    CHECK(mg_push(a, -1, -1, -1, 0, 0) == -MG_EOP);
    CHECK(mg_push(a, MG_OP_COUNT, -1, -1, 0, 0) == -MG_EOP);
    CHECK(mg_push(a, MG_ADD, zero, 12345, 0, 0) == -MG_EINDEX);
    CHECK(mg_push(a, MG_ADD, -7, zero, 0, 0) == -MG_EINDEX);
    CHECK(mg_push(a, MG_POW, zero, -1, -1, 1) == -MG_EZERODIV);
    CHECK(mg_push(a, MG_POW, neg, -1, 0.5, 0) == -MG_ECOMPLEX);
    CHECK(mg_push(a, MG_POW, big, -1, 2, 1) == -MG_ERANGE);
    CHECK(mg_push(a, MG_EXP, big, -1, 0, 0) == -MG_ERANGE);
    CHECK(mg_push(a, MG_LOG, zero, -1, 0, 0) == -MG_EDOMAIN);
    CHECK(mg_push(a, MG_POWV, zero, neg, 0, 0) == -MG_EZERODIV);
    CHECK(mg_push(a, MG_POWV, neg, MG_CONST, 0.5, 0) == -MG_ECOMPLEX);  /* its leaf is freed */
    CHECK(mg_push(a, MG_ADD, 999, MG_CONST, 1.0, 0) == -MG_EINDEX);
    CHECK(live(a) == before);
    CHECK(mg_get(a, 999, MG_DATA, &num) == MG_EINDEX);
    CHECK(mg_get(a, zero, 99, &num) == MG_EINDEX);
    CHECK(mg_set(a, -1, MG_DATA, 1, 0) == MG_EINDEX);
    CHECK(mg_set(a, zero, MG_ARG, 1, 0) == MG_EINDEX);
    CHECK(mg_node(a, 999, &op, &l, &r) == MG_EINDEX);
    CHECK(mg_retain(a, 999) == MG_EINDEX);
    CHECK(mg_backward(a, 999) == MG_EINDEX);
    int32_t bad[2] = { zero, 999 };
    CHECK(mg_zero_grad(a, bad, 2) == MG_EINDEX);
    CHECK(mg_arena_limit(a, 0) == MG_ERANGE);
    /* release skips what is not live, and still drops the rest */
    CHECK(mg_retain(a, zero) == MG_OK);
    CHECK(mg_release(a, bad, 2) == MG_EINDEX && live(a) == before);
    CHECK(mg_release(a, &zero, 1) == MG_OK && live(a) == before - 1);
    CHECK(mg_release(a, &zero, 1) == MG_EINDEX);   /* a double release is reported */
    int32_t rest[2] = { neg, big };
    CHECK(mg_release(a, rest, 2) == MG_OK && live(a) == 0);
    mg_arena_free(a);
    mg_arena_free(NULL);
}

/* a limit makes growth fail with MG_ENOMEM and leaves the graph exact */
static void out_of_memory(void)
{
    mg_arena *a = mg_arena_new(16);
    CHECK(mg_arena_limit(a, 64) == MG_OK);
    int32_t x = push(a, MG_LEAF, -1, -1, 3.0), y = push(a, MG_MUL, x, x, 0);
    int32_t k, status = 0, last = -1;
    for (k = 0; k < 100; k++) {
        status = mg_push(a, MG_LEAF, -1, -1, k, 1);
        if (status < 0)
            break;
        last = status;
    }
    CHECK(status == -MG_ENOMEM && k == 62);
    CHECK(mg_release(a, &last, 1) == MG_OK);      /* one free slot: a constant needs two */
    CHECK(mg_push(a, MG_MUL, x, MG_CONST, 2.0, 0) == -MG_ENOMEM && live(a) == 63);
    CHECK(mg_backward(a, y) == MG_OK && get(a, x, MG_GRAD) == 6 && get(a, y, MG_DATA) == 9);
    CHECK(mg_arena_limit(a, INT32_MAX) == MG_OK);
    CHECK(mg_push(a, MG_LEAF, -1, -1, 1, 0) >= 0);
    mg_arena_free(a);     /* with nodes still live: the arena owns them all */
}

/* a dot's operands: start 0.5, weights 1..4, inputs the leaves of c */
static void dot_operands(mg_arena *a, int32_t *b, int32_t w[4], int32_t x[4], const double c[4])
{
    *b = push(a, MG_LEAF, -1, -1, 0.5);
    for (int k = 0; k < 4; k++) {
        w[k] = push(a, MG_LEAF, -1, -1, k + 1);
        x[k] = push(a, MG_LEAF, -1, -1, c[k]);
    }
}

/* mg_dot: n products and n sums; a failure halfway frees what it made */
static void dot(void)
{
    mg_arena *a = mg_arena_new(16);
    int32_t b, w[4], x[4];
    double c[4] = { 1, -2, 3, -4 };
    dot_operands(a, &b, w, x, c);
    int32_t s = mg_dot(a, b, w, x, NULL, 4, 0), t = mg_dot(a, b, w, NULL, c, 4, 0);
    CHECK(s >= 0 && t >= 0 && live(a) == 9 + 8 + 12);
    CHECK(get(a, s, MG_DATA) == 0.5 + 1 - 4 + 9 - 16 && get(a, t, MG_DATA) == get(a, s, MG_DATA));
    CHECK(mg_backward(a, s) == MG_OK && get(a, w[2], MG_GRAD) == 3 && get(a, x[3], MG_GRAD) == 4);
    CHECK(mg_release(a, &t, 1) == MG_OK && live(a) == 17);
    CHECK(mg_arena_limit(a, 32) == MG_OK);          /* 15 free slots: 5 of 8 terms */
    int32_t many_w[8] = { w[0], w[1], w[2], w[3], w[0], w[1], w[2], w[3] };
    double many_c[8] = { 0 };
    CHECK(mg_dot(a, b, many_w, NULL, many_c, 8, 0) == -MG_ENOMEM && live(a) == 17);
    CHECK(mg_dot(a, b, w, x, NULL, -1, 0) == -MG_EINDEX && mg_dot(a, 99, w, x, NULL, 1, 0) == -MG_EINDEX);
    CHECK(mg_release(a, &s, 1) == MG_OK && live(a) == 9);
    mg_arena_free(a);
}

/* growth through many doublings, slot reuse, a long chain freed without recursion */
static void churn(void)
{
    mg_arena *a = mg_arena_new(1);
    int32_t x = push(a, MG_LEAF, -1, -1, 1.0);
    for (int round = 0; round < 3; round++) {
        int32_t chain = x;
        CHECK(mg_retain(a, x) == MG_OK);
        for (int k = 0; k < 200000; k++) {
            int32_t next = push(a, k % 2 ? MG_TANH : MG_ADD, chain, x, 0);
            CHECK(mg_release(a, &chain, 1) == MG_OK);   /* the chain holds it now */
            chain = next;
        }
        CHECK(mg_backward(a, chain) == MG_OK);
        CHECK(mg_release(a, &chain, 1) == MG_OK);
        CHECK(live(a) == 1);
    }
    mg_stats s;
    mg_arena_stats(a, &s);
    CHECK(s.cap >= 200001 && s.cap <= 2 * 262144);   /* reused, not grown each round */
    mg_arena_free(a);
}

/* optimizers: a step of each kind, state in and out, a dead parameter, and
 * optimizers freed before and after their arena (mg_optim_free never touches it) */
static void optimizers(void)
{
    mg_arena *a = mg_arena_new(16);
    double init[3] = { 1.0, -2.0, 0.5 };
    int32_t p[3] = { push(a, MG_LEAF, -1, -1, init[0]), push(a, MG_LEAF, -1, -1, init[1]),
                     push(a, MG_LEAF, -1, -1, init[2]) };
    mg_optim_config configs[MG_OPTIM_COUNT] = {
        { .kind = MG_SGD, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01 },
        { .kind = MG_ADAM, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01 },
        { .kind = MG_ADAMW, .beta1 = 0.3, .beta2 = 0.9, .eps = 1e-8, .weight_decay = 0.01 },
    };
    mg_optim *o[MG_OPTIM_COUNT + 1] = { NULL };
    for (int k = 0; k < MG_OPTIM_COUNT; k++) {
        CHECK(mg_optim_new(a, &configs[k], p, 3, &o[k]) == MG_OK);
        for (int s = 0; s < 3; s++) {
            for (int j = 0; j < 3; j++)
                CHECK(mg_set(a, p[j], MG_GRAD, 0.25 * (j + 1), 0) == MG_OK);
            CHECK(mg_optim_step(o[k], 0.1) == MG_OK);
        }
        CHECK(mg_optim_zero_grad(o[k]) == MG_OK && get(a, p[1], MG_GRAD) == 0);
    }
    for (int j = 0; j < 3; j++)
        CHECK(isfinite(get(a, p[j], MG_DATA)) && get(a, p[j], MG_DATA) < init[j]);  /* grads > 0 */
    double m[3], v[3], ones[3] = { 1, 1, 1 };
    int64_t step = 0;
    CHECK(mg_optim_state(o[MG_ADAM], m, v, &step) == MG_OK && step == 3 && m[2] > m[0]);
    CHECK(mg_optim_load(o[MG_ADAM], ones, ones, 5) == MG_OK);
    CHECK(mg_optim_state(o[MG_ADAM], m, v, &step) == MG_OK && step == 5 && m[1] == 1 && v[2] == 1);
    CHECK(mg_optim_state(o[MG_SGD], m, v, &step) == MG_ERANGE);     /* SGD has no v */
    CHECK(mg_optim_load(o[MG_SGD], m, NULL, -1) == MG_ERANGE);
    double at[3] = { get(a, p[0], MG_DATA), get(a, p[1], MG_DATA), get(a, p[2], MG_DATA) };
    CHECK(mg_optim_load(o[MG_SGD], m, NULL, INT64_MAX) == MG_OK);     /* the count is full: */
    CHECK(mg_optim_step(o[MG_SGD], 0.1) == MG_ERANGE && get(a, p[0], MG_DATA) == at[0]);
    CHECK(mg_optim_state(o[MG_SGD], m, NULL, &step) == MG_OK && step == INT64_MAX);
    CHECK(get(a, p[1], MG_DATA) == at[1] && get(a, p[2], MG_DATA) == at[2]);
    CHECK(mg_optim_new(a, &configs[0], p, -1, &o[3]) == MG_EINDEX);
    CHECK(mg_optim_new(a, &configs[0], NULL, 3, &o[3]) == MG_EINDEX);
    mg_optim_config bad = { .kind = MG_OPTIM_COUNT };
    CHECK(mg_optim_new(a, &bad, p, 3, &o[3]) == MG_EOP && o[3] == NULL);
    CHECK(mg_optim_new(a, &configs[0], p, 0, &o[3]) == MG_OK && mg_optim_step(o[3], 1) == MG_OK);
    /* a dead parameter: nothing changes */
    double before = get(a, p[0], MG_DATA);
    CHECK(mg_release(a, &p[2], 1) == MG_OK);
    CHECK(mg_optim_step(o[MG_ADAMW], 0.1) == MG_EINDEX && get(a, p[0], MG_DATA) == before);
    CHECK(mg_optim_zero_grad(o[MG_ADAMW]) == MG_EINDEX);
    CHECK(mg_optim_state(o[MG_ADAMW], NULL, NULL, &step) == MG_OK && step == 3);
    mg_optim_free(o[MG_SGD]);
    mg_optim_free(o[3]);
    mg_optim_free(NULL);
    mg_arena_free(a);
    mg_optim_free(o[MG_ADAM]);      /* after its arena: it only frees its own memory */
    mg_optim_free(o[MG_ADAMW]);
}

/* mg_leaves: consecutive slots at the end, all or nothing; mg_backward_node: one rule */
static void leaves(void)
{
    mg_arena *a = mg_arena_new(0);
    double v[40];
    uint8_t ints[40] = { 1 };
    for (int k = 0; k < 40; k++)
        v[k] = k;
    int32_t first = mg_leaves(a, v, ints, 40);     /* grows the arena on the way */
    CHECK(first == 0 && live(a) == 40 && get(a, 39, MG_DATA) == 39);
    mg_number n;
    CHECK(mg_get(a, 0, MG_DATA, &n) == MG_OK && n.is_int && mg_get(a, 1, MG_DATA, &n) == MG_OK
          && !n.is_int);
    CHECK(mg_release(a, &first, 1) == MG_OK && live(a) == 39);
    CHECK(mg_leaves(a, v, NULL, 3) == 40);         /* not into the freed slot 0 */
    CHECK(mg_leaves(a, v, NULL, 0) == 43 && live(a) == 42);
    CHECK(mg_leaves(a, NULL, NULL, 2) == -MG_EINDEX && mg_leaves(a, v, NULL, -1) == -MG_EINDEX);
    CHECK(mg_arena_limit(a, 50) == MG_OK);
    CHECK(mg_leaves(a, v, NULL, 10) == -MG_ENOMEM && live(a) == 42);
    int32_t z = push(a, MG_MUL, 2, 3, 0);
    CHECK(mg_set(a, z, MG_GRAD, 2.0, 0) == MG_OK && mg_backward_node(a, z) == MG_OK);
    CHECK(get(a, 2, MG_GRAD) == 6.0 && get(a, 3, MG_GRAD) == 4.0);
    CHECK(mg_backward_node(a, 2) == MG_OK && get(a, 2, MG_GRAD) == 6.0);   /* a leaf: nothing */
    CHECK(mg_backward_node(a, 999) == MG_EINDEX && mg_backward_node(a, -1) == MG_EINDEX);
    mg_arena_free(a);
}


static int64_t edges(mg_arena *a)
{
    mg_stats s;
    mg_arena_stats(a, &s);
    CHECK(s.edge_bytes >= s.edges * (int64_t)sizeof(int32_t));
    return s.edges;
}

static int64_t plans(mg_arena *a)
{
    mg_stats s;
    mg_arena_stats(a, &s);
    CHECK((s.plans == 0) == (s.plan_bytes == 0));
    return s.plans;
}

/* node i's children, as mg_kids gives them, compared with want[0..n) */
static int kids_are(mg_arena *a, int32_t i, const int32_t *want, int32_t n)
{
    int32_t got[64];
    if (mg_kids(a, i, got, 64) != n)
        return 0;
    for (int32_t k = 0; k < n; k++)
        if (got[k] != want[k])
            return 0;
    return 1;
}

/* mg_push_n: MG_DOT and MG_LSE over the edges array; every way to get it wrong */
static void nary(void)
{
    mg_arena *a = mg_arena_new(16);
    int32_t b = push(a, MG_LEAF, -1, -1, 1), w = push(a, MG_LEAF, -1, -1, 0.5);
    int32_t x = push(a, MG_LEAF, -1, -1, -3);
    int32_t dk[5] = { b, w, x, x, x }, lk[3] = { w, x, w };
    int32_t d = mg_push_n(a, MG_DOT, dk, 5), s = mg_push_n(a, MG_LSE, lk, 3);
    CHECK(d >= 0 && s >= 0 && live(a) == 5 && edges(a) == 8);
    CHECK(get(a, d, MG_DATA) == 1 + 0.5 * -3 + -3.0 * -3);
    CHECK(fabs(get(a, s, MG_DATA) - log(2 * exp(0.5) + exp(-3))) < 1e-15);
    CHECK(kids_are(a, d, dk, 5) && kids_are(a, s, lk, 3));
    int32_t two[2];
    CHECK(mg_kids(a, d, two, 2) == 5 && two[0] == b && two[1] == w);   /* at most cap */
    CHECK(mg_kids(a, d, NULL, 0) == 5 && mg_kids(a, d, NULL, 2) == -MG_EINDEX);
    CHECK(mg_kids(a, 999, two, 2) == -MG_EINDEX);
    int op; int32_t l, r;
    CHECK(mg_node(a, d, &op, &l, &r) == MG_OK && op == MG_DOT && l == -1 && r == -1);
    CHECK(mg_backward(a, d) == MG_OK);
    CHECK(get(a, b, MG_GRAD) == 1 && get(a, w, MG_GRAD) == -3 && get(a, x, MG_GRAD) == 0.5 + 2 * -3.0);
    CHECK(mg_backward(a, s) == MG_OK && get(a, s, MG_GRAD) == 1);
    /* errors: nothing is added, no reference is taken */
    int32_t bad[3] = { b, 999, x };
    CHECK(mg_push_n(a, MG_ADD, dk, 2) == -MG_EOP && mg_push_n(a, -1, dk, 3) == -MG_EOP);
    CHECK(mg_push_n(a, MG_OP_COUNT, dk, 3) == -MG_EOP);
    CHECK(mg_push_n(a, MG_DOT, bad, 3) == -MG_EINDEX && mg_push_n(a, MG_LSE, bad, 3) == -MG_EINDEX);
    CHECK(mg_push_n(a, MG_LSE, NULL, 3) == -MG_EINDEX && mg_push_n(a, MG_LSE, lk, -1) == -MG_EINDEX);
    double big = ldexp(1, 600);
    int32_t huge = mg_push(a, MG_LEAF, -1, -1, big, 1), hk[3] = { huge, huge, huge };
    CHECK(mg_push_n(a, MG_DOT, hk, 3) == -MG_ERANGE);                   /* an int product */
    CHECK(mg_release(a, &huge, 1) == MG_OK);
    CHECK(live(a) == 5 && edges(a) == 8);
    /* a full arena: ENOMEM, then the freed slot is reused */
    CHECK(mg_arena_limit(a, 16) == MG_OK);
    int32_t fill[16], nfill = 0, extra;
    while ((extra = mg_push(a, MG_LEAF, -1, -1, 2, 0)) >= 0)
        fill[nfill++] = extra;
    CHECK(extra == -MG_ENOMEM && nfill == 11);
    CHECK(mg_push_n(a, MG_LSE, lk, 3) == -MG_ENOMEM && live(a) == 16 && edges(a) == 8);
    CHECK(mg_release(a, &fill[4], 1) == MG_OK);
    int32_t again = mg_push_n(a, MG_LSE, lk, 3);
    CHECK(again == fill[4] && edges(a) == 11);
    fill[4] = fill[--nfill];
    CHECK(mg_release(a, fill, nfill) == MG_OK && live(a) == 6);
    /* children are held once per edge: released with the node */
    int32_t leaves[3] = { b, w, x };
    CHECK(mg_release(a, leaves, 3) == MG_OK && live(a) == 6);
    CHECK(mg_release(a, &d, 1) == MG_OK && live(a) == 4 && edges(a) == 6);
    CHECK(mg_release(a, &s, 1) == MG_OK && mg_release(a, &again, 1) == MG_OK);
    CHECK(live(a) == 0 && edges(a) == 0);
    mg_arena_free(a);
}

/* mg_dot fused: one node, the chain's data and grads; constants; failures free all */
static void dot_fused(void)
{
    mg_arena *a = mg_arena_new(16);
    int32_t b, w[4], x[4];
    double c[4] = { 1, -2, 3, -4 };
    dot_operands(a, &b, w, x, c);
    int32_t chain = mg_dot(a, b, w, x, NULL, 4, 0), f = mg_dot(a, b, w, x, NULL, 4, 1);
    int32_t fc = mg_dot(a, b, w, NULL, c, 4, 1);
    CHECK(chain >= 0 && f >= 0 && fc >= 0 && live(a) == 9 + 8 + 1 + 4 + 1);
    CHECK(get(a, f, MG_DATA) == get(a, chain, MG_DATA) && get(a, fc, MG_DATA) == get(a, f, MG_DATA));
    int32_t want[9] = { b, w[0], x[0], w[1], x[1], w[2], x[2], w[3], x[3] };
    CHECK(kids_are(a, f, want, 9) && edges(a) == 18);
    CHECK(mg_backward(a, f) == MG_OK);
    double grads[9];
    for (int k = 0; k < 9; k++)
        grads[k] = get(a, want[k], MG_GRAD);
    CHECK(mg_zero_grad(a, want, 9) == MG_OK && mg_backward(a, chain) == MG_OK);
    for (int k = 0; k < 9; k++)
        CHECK(get(a, want[k], MG_GRAD) == grads[k]);
    CHECK(mg_dot(a, b, NULL, NULL, NULL, 0, 1) == b && mg_release(a, &b, 1) == MG_OK);
    CHECK(mg_dot(a, b, w, NULL, NULL, 4, 1) == -MG_EINDEX && mg_dot(a, 99, w, x, NULL, 4, 1) == -MG_EINDEX);
    CHECK(mg_dot(a, b, w, x, NULL, -2, 1) == -MG_EINDEX);
    int32_t dead_w[2] = { w[0], 999 };
    CHECK(mg_dot(a, b, dead_w, x, NULL, 2, 1) == -MG_EINDEX);
    CHECK(mg_release(a, &fc, 1) == MG_OK && live(a) == 9 + 8 + 1);   /* its constants too */
    /* room for the constants but not the node: they are freed again */
    mg_stats st;
    mg_arena_stats(a, &st);
    CHECK(mg_arena_limit(a, (int32_t)st.cap) == MG_OK);
    int32_t fill[64], nfill = 0, extra;
    while ((extra = mg_push(a, MG_LEAF, -1, -1, 2, 0)) >= 0 && nfill < 64)
        fill[nfill++] = extra;
    CHECK(extra == -MG_ENOMEM && nfill >= 4);
    CHECK(mg_release(a, fill, 4) == MG_OK);
    int64_t before = live(a), before_edges = edges(a);
    CHECK(mg_dot(a, b, w, NULL, c, 4, 1) == -MG_ENOMEM);
    CHECK(live(a) == before && edges(a) == before_edges);
    CHECK(mg_release(a, fill + 4, nfill - 4) == MG_OK);
    CHECK(mg_release(a, &chain, 1) == MG_OK && mg_release(a, &f, 1) == MG_OK && live(a) == 9);
    mg_arena_free(a);
}

/* mg_forward: replay, failure halfway, plans freed with their root, reused slots */
static void replay(void)
{
    mg_arena *a = mg_arena_new(16);
    int32_t failed = 7;
    int32_t x = push(a, MG_LEAF, -1, -1, 2.0), y = push(a, MG_LEAF, -1, -1, 3.0);
    int32_t p = push(a, MG_MUL, x, MG_CONST, 3.0);                /* x * 3 */
    int32_t lg = push(a, MG_LOG, p, -1, 0);
    int32_t out = push(a, MG_ADD, lg, x, 0);
    CHECK(mg_forward(a, x, &failed) == MG_OK && failed == -1 && get(a, x, MG_DATA) == 2.0);
    CHECK(plans(a) == 1);
    CHECK(mg_set(a, x, MG_DATA, 0.5, 0) == MG_OK);
    CHECK(mg_forward(a, out, &failed) == MG_OK && failed == -1 && plans(a) == 2);
    CHECK(get(a, out, MG_DATA) == log(0.5 * 3.0) + 0.5);
    CHECK(mg_forward(a, out, &failed) == MG_OK && plans(a) == 2);   /* kept, not remade */
    CHECK(mg_backward(a, out) == MG_OK && get(a, x, MG_GRAD) == 1 / 1.5 * 3.0 + 1);
    /* a failure: nodes before the failing one are new, it and after are old */
    double old = get(a, out, MG_DATA);
    CHECK(mg_set(a, x, MG_DATA, -1.0, 0) == MG_OK);
    CHECK(mg_forward(a, out, &failed) == MG_EDOMAIN && failed == lg);
    CHECK(get(a, p, MG_DATA) == -3.0 && get(a, lg, MG_DATA) == log(1.5) && get(a, out, MG_DATA) == old);
    CHECK(mg_set(a, x, MG_DATA, 1.0, 0) == MG_OK);
    CHECK(mg_forward(a, out, &failed) == MG_OK && get(a, out, MG_DATA) == log(3.0) + 1.0);
    failed = 7;
    CHECK(mg_forward(a, 999, &failed) == MG_EINDEX && failed == -1 && plans(a) == 2);
    /* a plan dies with its root; the slot is reused by a different graph */
    int32_t d = push(a, MG_EXP, y, -1, 0);
    int32_t dead[2] = { out, d };             /* free list: d, then out, ... */
    CHECK(mg_release(a, dead, 2) == MG_OK && plans(a) == 1);
    int32_t c = push(a, MG_TANH, x, -1, 0), b = push(a, MG_MUL, c, y, 0);
    CHECK(c == d && b == out);
    CHECK(mg_set(a, x, MG_DATA, 0.25, 0) == MG_OK);
    CHECK(mg_forward(a, b, &failed) == MG_OK && plans(a) == 2);
    CHECK(get(a, b, MG_DATA) == tanh(0.25) * 3.0);
    CHECK(mg_backward(a, b) == MG_OK && get(a, y, MG_GRAD) == tanh(0.25));
    /* a deep chain replays without recursion, then dies with its plan */
    int32_t chain = x;
    CHECK(mg_retain(a, x) == MG_OK);
    for (int k = 0; k < 300000; k++) {
        int32_t next = push(a, MG_ADD, chain, y, 0);
        CHECK(mg_release(a, &chain, 1) == MG_OK);
        chain = next;
    }
    CHECK(mg_set(a, x, MG_DATA, 1.0, 0) == MG_OK && mg_set(a, y, MG_DATA, 1.0, 0) == MG_OK);
    CHECK(mg_forward(a, chain, &failed) == MG_OK && get(a, chain, MG_DATA) == 300001.0);
    CHECK(plans(a) == 3 && mg_release(a, &chain, 1) == MG_OK && plans(a) == 2);
    mg_arena_free(a);         /* with plans and nodes still live: LeakSanitizer checks */
}

/* mg_get_many and mg_set_many: all or nothing */
static void many(void)
{
    mg_arena *a = mg_arena_new(16);
    int32_t n[3] = { push(a, MG_LEAF, -1, -1, 0), push(a, MG_LEAF, -1, -1, 0), push(a, MG_LEAF, -1, -1, 0) };
    double v[3] = { 1.5, 2, -3 }, out[3] = { 0 };
    uint8_t ints[3] = { 0, 1, 1 };
    CHECK(mg_set_many(a, MG_DATA, n, v, ints, 3) == MG_OK);
    CHECK(mg_is_int(a, n[0], MG_DATA) == 0 && mg_is_int(a, n[1], MG_DATA) == 1);
    CHECK(mg_set_many(a, MG_GRAD, n, v, NULL, 3) == MG_OK && mg_is_int(a, n[2], MG_GRAD) == 0);
    CHECK(mg_get_many(a, MG_DATA, n, out, 3) == MG_OK && out[0] == 1.5 && out[2] == -3);
    CHECK(mg_get_many(a, MG_GRAD, n, out, 3) == MG_OK && out[1] == 2);
    CHECK(mg_get_many(a, MG_DATA, NULL, NULL, 0) == MG_OK && mg_set_many(a, MG_DATA, NULL, NULL, NULL, 0) == MG_OK);
    int32_t bad[3] = { n[0], n[1], 999 };
    double w[3] = { 9, 9, 9 }, keep[3] = { -1, -1, -1 };
    CHECK(mg_set_many(a, MG_DATA, bad, w, NULL, 3) == MG_EINDEX);
    CHECK(mg_get_many(a, MG_DATA, bad, keep, 3) == MG_EINDEX && keep[0] == -1 && keep[1] == -1);
    CHECK(mg_set_many(a, MG_ARG, n, w, NULL, 3) == MG_EINDEX && mg_get_many(a, MG_LABEL, n, keep, 3) == MG_EINDEX);
    CHECK(mg_set_many(a, 42, n, w, NULL, 3) == MG_EINDEX && mg_get_many(a, -1, n, keep, 3) == MG_EINDEX);
    CHECK(mg_set_many(a, MG_DATA, n, w, NULL, -1) == MG_EINDEX && mg_get_many(a, MG_DATA, NULL, keep, 3) == MG_EINDEX);
    CHECK(mg_set_many(a, MG_DATA, n, NULL, NULL, 3) == MG_EINDEX && mg_get_many(a, MG_DATA, n, NULL, 3) == MG_EINDEX);
    CHECK(mg_get_many(a, MG_DATA, n, out, 3) == MG_OK && out[0] == 1.5 && out[1] == 2 && out[2] == -3);
    CHECK(keep[2] == -1);
    mg_arena_free(a);
}

/* n-ary nodes made and freed over and over: the edges array is compacted and stays
 * small, the survivors keep their children, and growth of the node arrays meanwhile */
static void edges_churn(void)
{
    mg_arena *a = mg_arena_new(1);
    int32_t xs[16], keep[8], ring[16];
    for (int k = 0; k < 16; k++)
        xs[k] = push(a, MG_LEAF, -1, -1, k * 0.25);
    for (int k = 0; k < 8; k++) {
        for (int j = 0; j < 16; j++)
            ring[j] = xs[(j + k) % 16];
        keep[k] = mg_push_n(a, k % 2 ? MG_LSE : MG_DOT, ring, 15 - k % 2);
        CHECK(keep[k] >= 0);
    }
    double data[8];
    for (int k = 0; k < 8; k++)
        data[k] = get(a, keep[k], MG_DATA);
    int64_t base = edges(a);
    mg_stats s;
    for (int round = 0; round < 3000; round++) {
        int32_t tmp[6];
        for (int j = 0; j < 6; j++) {
            tmp[j] = mg_push_n(a, j % 2 ? MG_LSE : MG_DOT, xs + j, 1 + 2 * (j % 3 + 1));
            CHECK(tmp[j] >= 0);
        }
        if (round % 100 == 0) {             /* a burst of nodes: the node arrays grow */
            int32_t burst[64];
            for (int j = 0; j < 64; j++)
                burst[j] = mg_push_n(a, MG_LSE, xs, 16);
            CHECK(mg_release(a, burst, 64) == MG_OK);
        }
        CHECK(mg_release(a, tmp, 6) == MG_OK);
    }
    mg_arena_stats(a, &s);
    CHECK(s.edges == base && s.edge_bytes <= 4 * 4096);
    for (int k = 0; k < 8; k++) {
        for (int j = 0; j < 16; j++)
            ring[j] = xs[(j + k) % 16];
        CHECK(kids_are(a, keep[k], ring, 15 - k % 2));
        int32_t failed;
        CHECK(mg_forward(a, keep[k], &failed) == MG_OK && get(a, keep[k], MG_DATA) == data[k]);
    }
    CHECK(mg_release(a, xs, 16) == MG_OK);
    mg_arena_free(a);
}

/* bugs found and fixed: a dot needs its start and whole pairs, so 0 or an even number
 * of children is MG_EINDEX (0 read k[0]: a crash); so is a logsumexp of nothing (it
 * copied to a NULL edges array); and a freed index is MG_EINDEX even where a new
 * constant leaf would take its slot */
static void regressions(void)
{
    mg_arena *a = mg_arena_new(16);
    CHECK(mg_push_n(a, MG_LSE, NULL, 0) == -MG_EINDEX);     /* first: no edges array yet */
    int32_t b = push(a, MG_LEAF, -1, -1, 1), two[2] = { b, b };
    CHECK(mg_push_n(a, MG_DOT, NULL, 0) == -MG_EINDEX);
    CHECK(mg_push_n(a, MG_DOT, two, 0) == -MG_EINDEX);
    CHECK(mg_push_n(a, MG_DOT, two, 2) == -MG_EINDEX);
    CHECK(live(a) == 1);
    /* a freed index must not alias the constant leaf that takes its slot */
    int32_t w = push(a, MG_LEAF, -1, -1, 2);
    double c = 5;
    CHECK(mg_release(a, &w, 1) == MG_OK);
    CHECK(mg_push(a, MG_MUL, w, MG_CONST, 5, 0) == -MG_EINDEX);
    CHECK(mg_dot(a, b, &w, NULL, &c, 1, 0) == -MG_EINDEX);
    CHECK(mg_dot(a, b, &w, NULL, &c, 1, 1) == -MG_EINDEX);
    CHECK(live(a) == 1);
    mg_arena_free(a);
}

/* Python code in the graph: MG_PY nodes and MG_PYSTATE mark their ancestors; mg_backward
 * leaves them to the caller, who drives mg_order, mg_find and mg_backward_nodes */
static void python_nodes(void)
{
    mg_arena *a = mg_arena_new(16);
    int32_t x = push(a, MG_LEAF, -1, -1, 2), y = push(a, MG_LEAF, -1, -1, 3);
    int32_t kids[2] = { x, y };
    int32_t p = mg_push_py(a, kids, 2, 7, 0);           /* Python computed 7 */
    CHECK(p >= 0 && (p & MG_PYTHON_INDEX) && get(a, p & MG_INDEX_MASK, MG_DATA) == 7);
    p &= MG_INDEX_MASK;
    int32_t none = mg_push_py(a, NULL, 0, 1, 1);        /* no children: allowed */
    CHECK(none >= 0 && (none & MG_PYTHON_INDEX));
    none &= MG_INDEX_MASK;
    CHECK(mg_push_py(a, NULL, 2, 1, 0) == -MG_EINDEX);
    int32_t bad[1] = { 999 };
    CHECK(mg_push_py(a, bad, 1, 1, 0) == -MG_EINDEX);
    int32_t z = mg_push(a, MG_MUL, p, x, 0, 0);          /* made from it: marked too */
    CHECK(z >= 0 && (z & MG_PYTHON_INDEX));
    z &= MG_INDEX_MASK;
    int32_t c = push(a, MG_MUL, x, y, 0);                 /* not: a plain index */
    CHECK(!(c & MG_PYTHON_INDEX));
    CHECK(mg_backward(a, c) == MG_OK && get(a, x, MG_GRAD) == 3);
    CHECK(mg_backward(a, z) == MG_EPYTHON && get(a, z, MG_GRAD) == 0);
    int32_t above = push(a, MG_RELU, c, -1, 0);            /* made before c gets a rule */
    CHECK(mg_set(a, c, MG_PYSTATE, 0, 1) == MG_OK && mg_backward(a, c) == MG_EPYTHON);
    CHECK(mg_backward(a, above) == MG_EPYTHON);             /* found by the walk */
    CHECK(mg_release(a, &above, 1) == MG_OK);
    int32_t order[8], pos[8], want[2] = { p, c };
    CHECK(mg_order(a, z, order, 2) == 4 && get(a, z, MG_GRAD) == 0);   /* no room: nothing */
    CHECK(mg_order(a, z, order, 8) == 4 && get(a, z, MG_GRAD) == 1);
    CHECK(order[3] == z && mg_find(a, order, 4, want, 2, pos) == 1 && order[pos[0]] == p);
    CHECK(mg_backward_nodes(a, order + pos[0] + 1, 4 - pos[0] - 1) == MG_OK);
    CHECK(get(a, p, MG_GRAD) == 2 && get(a, x, MG_GRAD) == 3 + 7);  /* z = p * x */
    CHECK(mg_backward_nodes(a, order, pos[0]) == MG_OK && get(a, y, MG_GRAD) == 2);  /* p: no C rule */
    CHECK(mg_backward_nodes(a, bad, 1) == MG_EINDEX && mg_order(a, 999, order, 8) == -MG_EINDEX);
    int32_t failed = -1;
    CHECK(mg_forward(a, z, &failed) == MG_EPYTHON && failed == p);
    CHECK(mg_arena_limit(a, INT32_MAX) == MG_OK);         /* clamped below MG_PYTHON_INDEX */
    int32_t all[6] = { x, y, p, none, z, c };
    CHECK(mg_release(a, all, 6) == MG_OK && live(a) == 0);
    /* a rule on a leaf of a graph with a kept order (which holds no leaves): still found,
     * before or after the order was made, until the leaf is freed */
    int32_t w = push(a, MG_LEAF, -1, -1, 3), v = push(a, MG_MUL, w, MG_CONST, 2);
    CHECK(mg_forward(a, v, &failed) == MG_OK && mg_backward(a, v) == MG_OK);
    CHECK(mg_set(a, w, MG_PYSTATE, 0, 1) == MG_OK && mg_backward(a, v) == MG_EPYTHON);
    CHECK(mg_forward(a, v, &failed) == MG_OK && mg_backward(a, v) == MG_EPYTHON);
    CHECK(mg_set(a, w, MG_PYSTATE, 0, 0) == MG_OK && mg_backward(a, v) == MG_OK);  /* gone */
    CHECK(mg_set(a, v, MG_PYSTATE, 0, 0) == MG_OK);     /* a parent's flag is not cleared */
    CHECK(mg_set(a, w, MG_PYSTATE, 0, 1) == MG_OK && mg_backward(a, v) == MG_EPYTHON);
    CHECK(mg_release(a, &w, 1) == MG_OK && mg_backward(a, v) == MG_EPYTHON);  /* v holds w */
    CHECK(mg_release(a, &v, 1) == MG_OK && live(a) == 0);
    int32_t u = push(a, MG_LEAF, -1, -1, 1), t = push(a, MG_RELU, u, -1, 0);  /* w's slots */
    CHECK(mg_forward(a, t, &failed) == MG_OK && mg_backward(a, t) == MG_OK);
    int32_t ut[2] = { u, t };
    CHECK(mg_release(a, ut, 2) == MG_OK && live(a) == 0);
    mg_arena_free(a);
}

/* Python's arena: the mg_use_ calls are the mg_ calls on the arena given to mg_use */
static void used_arena(void)
{
    CHECK(mg_use_push(MG_LEAF, -1, -1, 1, 0) == -MG_EINDEX && isnan(mg_use_value(0, MG_DATA)));
    CHECK(mg_use_set(0, MG_DATA, 1, 0) == MG_EINDEX && mg_use_release(NULL, 0) == MG_EINDEX);
    mg_arena *a = mg_arena_new(16);
    mg_use(a);
    int32_t x = mg_use_push(MG_LEAF, -1, -1, 3, 1), y = mg_use_push(MG_MUL, x, MG_CONST, 2.5, 0);
    CHECK(x >= 0 && y >= 0 && mg_use_value(y, MG_DATA) == 7.5 && !mg_use_is_int(y, MG_DATA));
    CHECK(mg_use_is_int(x, MG_DATA) && mg_use_set(x, MG_GRAD, 4, 1) == MG_OK);
    CHECK(get(a, x, MG_GRAD) == 4 && mg_use_set(99, MG_GRAD, 4, 1) == MG_EINDEX);
    int32_t both[2] = { x, y };
    CHECK(mg_use_release(both, 2) == MG_OK && live(a) == 0);
    mg_use(NULL);
    mg_arena_free(a);
}

/* A Batch over a small layer: every row against mg_forward on that row, bit for bit;
 * the shared grads against mg_backward summed over the rows; bad inputs; a failing
 * row; rows growing over several chunks and threads; the batch's own reference */
static void batches(void)
{
    mg_arena *a = mg_arena_new(16);
    double wv[6] = { 0.5, -1.5, 2.0, 0.25, 1.0, -0.75 }, zero[3] = { 1, 1, 1 };
    int32_t w = mg_leaves(a, wv, NULL, 6), x = mg_leaves(a, zero, NULL, 3);
    int32_t b0 = push(a, MG_LEAF, -1, -1, 0.1), b1 = push(a, MG_LEAF, -1, -1, 0);
    int32_t wi0[3] = { w, w + 1, w + 2 }, wi1[3] = { w + 3, w + 4, w + 5 };
    int32_t xi[3] = { x, x + 1, x + 2 };
    int32_t d0 = mg_dot(a, b0, wi0, xi, NULL, 3, 1), d1 = mg_dot(a, b1, wi1, xi, NULL, 3, 1);
    int32_t h0 = push(a, MG_TANH, d0, -1, 0), h1 = push(a, MG_RELU, d1, -1, 0);
    int32_t s = push(a, MG_ADD, h0, h1, 0), root = push(a, MG_MUL, s, s, 0);
    int64_t before = live(a);
    mg_batch *bt = NULL;
    int32_t bad, node, dups[2] = { x, x };
    int64_t row;
    mg_number args[2];
    CHECK(strlen(mg_kernels()) > 0);
    CHECK(mg_batch_new(a, root, dups, 2, &bt, &bad) == MG_EINDEX && bad == 1);
    CHECK(mg_batch_new(a, root, &h0, 1, &bt, &bad) == MG_EINDEX && bad == 0);   /* not a leaf */
    CHECK(mg_batch_new(a, root, xi, 3, &bt, &bad) == MG_OK && live(a) == before);
    CHECK(mg_batch_backward(bt, 1, 1) == MG_EINDEX);                 /* no forward yet */
    enum { ROWS_MANY = 203 };
    static double X[ROWS_MANY * 3], out[ROWS_MANY], data[ROWS_MANY];
    for (int k = 0; k < ROWS_MANY * 3; k++)
        X[k] = sin(k * 0.37) * 3;
    int32_t params[8] = { w, w + 1, w + 2, w + 3, w + 4, w + 5, b0, b1 };
    double got[8], want[8] = { 0 };
    for (int threads = 1; threads <= 3; threads += 2) {
        for (int64_t rows = 1; rows <= ROWS_MANY; rows += ROWS_MANY - 1) {
            CHECK(mg_batch_forward(bt, X, NULL, rows, threads, out, &node, &row, args) == MG_OK);
            CHECK(mg_batch_read(bt, MG_DATA, &h1, 1, rows, data, &bad) == MG_OK);
            CHECK(mg_zero_grad(a, params, 8) == MG_OK);
            CHECK(mg_batch_backward(bt, 0, threads) == MG_OK);
            CHECK(mg_get_many(a, MG_GRAD, params, got, 8) == MG_OK);
            for (int k = 0; k < 8; k++)
                want[k] = 0;
            for (int64_t r = 0; r < rows; r++) {
                int32_t failed;
                CHECK(mg_set_many(a, MG_DATA, xi, X + 3 * r, NULL, 3) == MG_OK);
                CHECK(mg_forward(a, root, &failed) == MG_OK);
                CHECK(get(a, root, MG_DATA) == out[r] && get(a, h1, MG_DATA) == data[r]);
                double g[8];
                CHECK(mg_zero_grad(a, params, 8) == MG_OK && mg_backward(a, root) == MG_OK);
                CHECK(mg_get_many(a, MG_GRAD, params, g, 8) == MG_OK);
                for (int k = 0; k < 8; k++)
                    want[k] += g[k];
            }
            for (int k = 0; k < 8; k++)
                CHECK(fabs(got[k] - want[k]) <= 1e-12 * (1 + fabs(want[k])));
        }
    }
    int32_t other = push(a, MG_LEAF, -1, -1, 1);
    CHECK(mg_batch_read(bt, MG_DATA, &other, 1, ROWS_MANY, data, &bad) == MG_EINDEX && bad == 0);
    CHECK(mg_batch_read(bt, MG_DATA, &h1, 1, 1, data, &bad) == MG_ERANGE);   /* rows differ */
    /* a failing row: log of a negative number on row 130 of x's */
    CHECK(mg_set(a, x, MG_DATA, 1, 0) == MG_OK);
    int32_t lg = push(a, MG_LOG, x, -1, 0);
    mg_batch *bl = NULL;
    CHECK(mg_batch_new(a, lg, &x, 1, &bl, &bad) == MG_OK);
    for (int k = 0; k < 150; k++)
        X[k] = k == 130 ? -1 : k + 1;
    CHECK(mg_batch_forward(bl, X, NULL, 150, 2, out, &node, &row, args) == MG_EDOMAIN);
    CHECK(node == lg && row == 130 && args[0].value == -1 && mg_batch_backward(bl, 1, 1) == MG_EINDEX);
    CHECK(mg_batch_forward(bl, X, NULL, 130, 2, out, &node, &row, args) == MG_OK && out[129] == log(130));
    CHECK(mg_release(a, &lg, 1) == MG_OK && live(a) > before);   /* bl holds it */
    mg_batch_free(bl);
    mg_batch_free(bt);
    mg_batch_free(NULL);
    CHECK(mg_release(a, &other, 1) == MG_OK && live(a) == before);
    CHECK(mg_release(a, &root, 1) == MG_OK);        /* the caller's references remain */
    int32_t rest[6] = { w, w + 1, w + 2, w + 3, w + 4, w + 5 };
    CHECK(mg_release(a, rest, 6) == MG_OK && mg_release(a, xi, 3) == MG_OK);
    CHECK(mg_release(a, params + 6, 2) == MG_OK);
    int32_t mids[5] = { d0, d1, h0, h1, s };
    CHECK(mg_release(a, mids, 5) == MG_OK && live(a) == 0);
    mg_arena_free(a);
}

int main(void)
{
    names();
    every_op();
    errors();
    out_of_memory();
    dot();
    churn();
    optimizers();
    leaves();
    nary();
    dot_fused();
    replay();
    many();
    edges_churn();
    regressions();
    python_nodes();
    used_arena();
    batches();
    for (int k = 0; k < 100; k++) {     /* arenas created and freed in a loop */
        mg_arena *a = mg_arena_new(k);
        push(a, MG_LEAF, -1, -1, k);
        mg_arena_free(a);
    }
    if (failures) {
        fprintf(stderr, "arena_harness: %d checks failed\n", failures);
        return 1;
    }
    printf("arena_harness: every mg.h function exercised, all checks passed\n");
    return 0;
}
