/* eval.h: one node's forward and backward: the op dispatch over rules.h's rules.
 *
 * Static inline, for build.c (a new node's data) and plan.c (replay, backward):
 * the switches are generated from ops.def, so an op's case exists once it has a
 * row. Python's int flags and statuses are handled here, once: python_result()
 * after every forward rule, add_grad() for every grad a rule passes on.
 * Not here: which nodes, in which order (plan.c), making nodes (build.c).
 */
#ifndef MG_EVAL_H
#define MG_EVAL_H
#include <assert.h>
#include <math.h>
#include "arena.h"
#include "rules.h"

/* what Python does with a rule's result: an int too large for a float is an
 * OverflowError (as float()), and an int zero is never -0 (0 * -3 is 0) */
static HOT_INLINE mg_result python_result(mg_result r)
{
    if (r.status == MG_OK && r.is_int && !isfinite(r.value))
        r.status = MG_ERANGE;
    if (r.is_int && r.value == 0)
        r.value = 0;
    return r;
}

/* child c's grad += t, which micrograd holds as a Python int only if t is one */
static HOT_INLINE void add_grad(mg_arena *a, int32_t c, mg_number t)
{
    a->grad[c] += t.value;
    if (!t.is_int || !isfinite(a->grad[c]))
        a->flags[c] &= (uint8_t)~MG_GRAD_INT;
}

/* ---------------------------------------------------------------- n-ary rules */

/* b + w0*x0 + w1*x1 + ...: micrograd's chain of `*` and `+` nodes, in its order,
 * each with the int flag and the OverflowError that node would have; one step:
 * s + w * x */
static HOT_INLINE mg_result dot_step(mg_result s, mg_number w, mg_number x)
{
    mg_result p = python_result(mul_forward(w, x));
    if (p.status != MG_OK)
        return p;
    return python_result(add_forward(number(s.value, s.is_int), number(p.value, p.is_int)));
}

static inline mg_result dot_forward_n(const mg_arena *a, const int32_t *k, int32_t n)
{
    mg_result s = result(a->data[k[0]], (a->flags[k[0]] & MG_DATA_INT) != 0);
    for (int32_t j = 1; j + 1 < n && s.status == MG_OK; j += 2)
        s = dot_step(s, data_of(a, k[j]), data_of(a, k[j + 1]));
    return s;
}

/* the chain's backward: every sum passes out.grad on, every product w*x gives
 * w.grad += x.data * out.grad and the mirror image */
static inline void dot_backward_n(mg_arena *a, int32_t i, const int32_t *k, int32_t n,
                                  mg_number g)
{
    (void)i;
    add_grad(a, k[0], add_dx(data_of(a, k[0]), real(0), 0, g));     /* the first sum */
    for (int32_t j = 1; j + 1 < n; j += 2) {
        mg_number w = data_of(a, k[j]), x = data_of(a, k[j + 1]);
        add_grad(a, k[j], mul_dx(w, x, 0, g));
        add_grad(a, k[j + 1], mul_dy(w, x, 0, g));
    }
}

/* logsumexp: the largest x, then the shifted sum */
static inline mg_result lse_forward_n(const mg_arena *a, const int32_t *k, int32_t n)
{
    double m = -INFINITY, s = 0;
    for (int32_t j = 0; j < n; j++)
        m = lse_max(m, a->data[k[j]]);
    if (!isfinite(m))       /* nan, +inf, or every x is -inf */
        return result(m, 0);
    for (int32_t j = 0; j < n; j++)
        s += lse_term(a->data[k[j]], m);
    return result(lse_value(m, s), 0);
}

static inline void lse_backward_n(mg_arena *a, int32_t i, const int32_t *k, int32_t n,
                                  mg_number g)
{
    for (int32_t j = 0; j < n; j++)
        add_grad(a, k[j], lse_dx(data_of(a, k[j]), a->data[i], g));
}

/* pick: children t, x0, ..., x_{k-1}; out = x[t] */
static inline mg_result pick_forward_n(const mg_arena *a, const int32_t *k, int32_t n)
{
    int32_t j = 0;
    int status = pick_index(a->data[k[0]], n - 1, &j);
    if (status != MG_OK)
        return (mg_result){ 0, 0, status };
    return pick_forward(data_of(a, k[1 + j]));
}

/* x[t].grad += out.grad, t read from current data, as every rule reads its operands. An
 * index made bad since the last forward (t.data = 1.5, no forward()) passes nothing on:
 * a backward cannot fail, and that x[t] names no value. */
static inline void pick_backward_n(mg_arena *a, int32_t i, const int32_t *k, int32_t n,
                                   mg_number g)
{
    int32_t j = 0;
    if (pick_index(a->data[k[0]], n - 1, &j) == MG_OK)
        add_grad(a, k[1 + j], pick_dx(data_of(a, k[1 + j]), a->data[i], g));
}

/* ---------------------------------------------------------------- dispatch */

/* each kind's call of its rule (ops.def), as a case of forward() and backward_node() */
#define FORWARD_LEAF(rule)   return leaf_forward(c);
#define FORWARD_INFIX(rule)  return rule##_forward(x, y);
#define FORWARD_CALL(rule)   return rule##_forward(x);
#define FORWARD_NARY(rule)   return rule##_forward_n(a, k, n);
#define FORWARD_PYTHON(rule) return (mg_result){ 0, 0, MG_EPYTHON };  /* Python's code */

/* The forward rule of every op: the data and int flag of a node from its
 * children k[0..n) and its constant c (the exponent of MG_POW; a leaf's data). */
static HOT_INLINE mg_result forward(const mg_arena *a, int op, const int32_t *k, int32_t n,
                                    mg_number c)
{
    mg_number x = n > 0 ? data_of(a, k[0]) : c, y = n > 1 ? data_of(a, k[1]) : c;
    switch ((mg_op)op) {
#define OP(name, label, arity, kind, rule) case name: FORWARD_##kind(rule)
#include "ops.def"
#undef OP
    case MG_OP_COUNT: break;
    }
    return (mg_result){ 0, 0, MG_EOP };
}

/* forward(), and what Python does with its result */
static HOT_INLINE mg_result evaluate(const mg_arena *a, int op, const int32_t *k, int32_t n,
                                     mg_number c)
{
    return python_result(forward(a, op, k, n, c));
}

/* INFIX: x's term, and y's for two children (y of MG_POW is its constant); l and r
 * are the children of a node of two at most */
#define BACKWARD_LEAF(rule, arity)
#define BACKWARD_INFIX(rule, arity) {                                                   \
        int32_t l = a->kids[i][0], r = a->kids[i][1];                                   \
        mg_number x = data_of(a, l), y = arity == 2 ? data_of(a, r)                     \
                    : number(a->arg[i], (a->flags[i] & MG_ARG_INT) != 0);               \
        add_grad(a, l, rule##_dx(x, y, a->data[i], g));                                 \
        if (arity == 2)                                                                 \
            add_grad(a, r, rule##_dy(x, y, a->data[i], g));                             \
    }
#define BACKWARD_CALL(rule, arity) {                                                    \
        int32_t l = a->kids[i][0];                                                      \
        add_grad(a, l, rule##_dx(data_of(a, l), a->data[i], g));                        \
    }
#define BACKWARD_NARY(rule, arity) {                                                    \
        const int32_t *k;                                                               \
        int32_t n = children(a, i, &k);                                                 \
        rule##_backward_n(a, i, k, n, g);                                               \
    }
#define BACKWARD_PYTHON(rule, arity)    /* its rule, if any, is Python code: Python calls it */

/* The backward rule of every op, computed from current data as micrograd does:
 * node i's grad passed on to its children's. */
static HOT_INLINE void backward_node(mg_arena *a, int32_t i)
{
    mg_number g = number(a->grad[i], (a->flags[i] & MG_GRAD_INT) != 0);
    switch ((mg_op)a->op[i]) {
#define OP(name, label, arity, kind, rule) case name: BACKWARD_##kind(rule, arity) break;
#include "ops.def"
#undef OP
    case MG_OP_COUNT:
        assert(0);
        break;
    }
}

#endif
