/* rules.h: each op's math over plain numbers, forward and backward side by side.
 *
 * One op, one block: its value (with whether micrograd would hold a Python int, and
 * the status of a failure: ZeroDivisionError, OverflowError, ...) and the term each
 * operand's grad receives, the micrograd 0.1.0 line each implements quoted above it
 * (engine.py of micrograd; ops micrograd lacks name the formula they use). Formulas
 * and their order of operations are micrograd's, so data stays bit-identical.
 *
 * Not here: the arena, nodes, children, flags. A rule reads numbers and returns
 * numbers, so the scalar engine (eval.h: one node at a time) and a pass over lanes
 * (`out[b] = mul_forward(x[b], y[b]).value`) apply the same code. What Python does
 * with every result (an int too large for a float, the sign of an int zero) is
 * eval.h's, once, not each rule's.
 *
 * Signatures, by the kind of ops.def (every rule takes every operand of its kind; most
 * use a few):
 *   INFIX  mg_result <rule>_forward(mg_number x, mg_number y)
 *          mg_number <rule>_dx(mg_number x, mg_number y, double out, mg_number g)
 *          mg_number <rule>_dy(...the same...)   (compiled for every INFIX row, called
 *                                                  for two children: MG_POWV's, not MG_POW's)
 *   CALL   mg_result <rule>_forward(mg_number x)
 *          mg_number <rule>_dx(mg_number x, double out, mg_number g)
 * x, y: the operands' data (y of MG_POW: its constant exponent); out: the node's
 * data; g: out.grad. A backward rule returns what micrograd adds to the operand's
 * grad (the right-hand side of `self.grad += ...`, out.grad included: `log` divides
 * by x rather than multiplying by 1/x), and whether that is a Python int.
 */
#ifndef MG_RULES_H
#define MG_RULES_H
#include <math.h>
#include <stdint.h>
#include "mg.h"

#if defined(__GNUC__)
#define RULE static inline __attribute__((always_inline))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"     /* one signature per kind, above */
#else
#define RULE static inline
#endif

/* a forward rule's result: mg_number's value and is_int (a Python int in micrograd),
 * and MG_OK or the status of the exception micrograd would raise */
typedef struct {
    double value;
    int is_int;
    int status;
} mg_result;

static inline mg_result result(double value, int is_int) { return (mg_result){ value, is_int, MG_OK }; }
static inline mg_number number(double value, int is_int) { return (mg_number){ value, is_int }; }
static inline mg_number real(double value) { return (mg_number){ value, 0 }; }  /* a float */

/* ---------------------------------------------------------------- leaf */

/* Value(data): a leaf holds its constant */
RULE mg_result leaf_forward(mg_number c) { return result(c.value, c.is_int); }

/* ---------------------------------------------------------------- x + y */

/* out = Value(self.data + other.data, (self, other), '+') */
RULE mg_result add_forward(mg_number x, mg_number y)
{
    return result(x.value + y.value, x.is_int && y.is_int);
}
/* self.grad += out.grad */
RULE mg_number add_dx(mg_number x, mg_number y, double out, mg_number g) { return g; }
/* other.grad += out.grad */
RULE mg_number add_dy(mg_number x, mg_number y, double out, mg_number g) { return g; }

/* ---------------------------------------------------------------- x * y */

/* out = Value(self.data * other.data, (self, other), '*') */
RULE mg_result mul_forward(mg_number x, mg_number y)
{
    return result(x.value * y.value, x.is_int && y.is_int);
}
/* self.grad += other.data * out.grad */
RULE mg_number mul_dx(mg_number x, mg_number y, double out, mg_number g)
{
    return number(y.value * g.value, y.is_int && g.is_int);
}
/* other.grad += self.data * out.grad */
RULE mg_number mul_dy(mg_number x, mg_number y, double out, mg_number g)
{
    return number(x.value * g.value, x.is_int && g.is_int);
}

/* ---------------------------------------------------------------- x ** y */

/* In micrograd a result is a Python int when int arithmetic produced it. */
static inline int pow_is_int(int base_int, double e, int e_int)
{
    return base_int && e_int && e >= 0;
}

/* x ** y in a gradient, its two commonest exponents without libm: pow(x, 1) is
 * exactly x; x * x is correctly rounded, and pow(x, 2) is within 0.52 ulp of it in
 * glibc (grads are compared with a tolerance; forward data always uses pow) */
static inline double grad_pow(double x, double y)
{
    return y == 1 ? x : y == 2 ? x * x : pow(x, y);
}

/* out = Value(self.data**other, (self,), f'**{other}'), with the errors of Python's
 * float.__pow__ as statuses (MG_ECOMPLEX where Python would return a complex number).
 * MG_POW: y is the node's constant; MG_POWV (x ** Value): y is the right child. */
RULE mg_result pow_forward(mg_number x, mg_number y)
{
    mg_result r = result(pow(x.value, y.value), pow_is_int(x.is_int, y.value, y.is_int));
    if (x.value == 0 && y.value < 0 && isfinite(y.value))
        r.status = MG_EZERODIV;
    else if (x.value < 0 && isfinite(x.value) && isfinite(y.value) && y.value != floor(y.value))
        r.status = MG_ECOMPLEX;
    else if (isinf(r.value) && isfinite(x.value) && isfinite(y.value))
        r.status = MG_ERANGE;
    return r;
}
/* self.grad += (other * self.data**(other-1)) * out.grad; 0 where other == 0 (micrograd
 * would compute 0 * x**-1, a ZeroDivisionError at x == 0) */
RULE mg_number pow_dx(mg_number x, mg_number y, double out, mg_number g)
{
    return number(y.value == 0 ? 0 : (y.value * grad_pow(x.value, y.value - 1)) * g.value,
                  pow_is_int(x.is_int, y.value - 1, y.is_int) && g.is_int);
}
/* MG_POWV's exponent: out * log(self.data) * out.grad, 0 where self.data == 0 and
 * other >= 0 (as PyTorch) */
RULE mg_number pow_dy(mg_number x, mg_number y, double out, mg_number g)
{
    return real(x.value == 0 && y.value >= 0 ? 0 : out * log(x.value) * g.value);
}

/* ---------------------------------------------------------------- relu */

/* out = Value(0 if self.data < 0 else self.data, (self,), 'ReLU'): the int 0 */
RULE mg_result relu_forward(mg_number x)
{
    return result(x.value < 0 ? 0 : x.value, x.value < 0 || x.is_int);
}
/* self.grad += (out.data > 0) * out.grad */
RULE mg_number relu_dx(mg_number x, double out, mg_number g)
{
    return number((out > 0) * g.value, g.is_int);
}

/* ---------------------------------------------------------------- tanh */

/* math.tanh(x): micrograd 0.1.0 has none; the lecture's Value makes t from exp */
RULE mg_result tanh_forward(mg_number x) { return result(tanh(x.value), 0); }
/* self.grad += (1 - t**2) * out.grad */
RULE mg_number tanh_dx(mg_number x, double out, mg_number g)
{
    return real((1 - grad_pow(out, 2)) * g.value);
}

/* ---------------------------------------------------------------- exp */

/* out = Value(math.exp(x), (self,), 'exp'): math.exp's OverflowError */
RULE mg_result exp_forward(mg_number x)
{
    mg_result r = result(exp(x.value), 0);
    if (isinf(r.value) && isfinite(x.value))
        r.status = MG_ERANGE;
    return r;
}
/* self.grad += out.data * out.grad */
RULE mg_number exp_dx(mg_number x, double out, mg_number g) { return real(out * g.value); }

/* ---------------------------------------------------------------- log */

/* math.log(x): its ValueError (math domain error) where x <= 0 */
RULE mg_result log_forward(mg_number x)
{
    mg_result r = result(log(x.value), 0);
    if (x.value <= 0)
        r.status = MG_EDOMAIN;
    return r;
}
/* self.grad += out.grad / self.data */
RULE mg_number log_dx(mg_number x, double out, mg_number g) { return real(g.value / x.value); }

/* ---------------------------------------------------------------- sigmoid */

/* 1 / (1 + exp(-x)), as exp(x) / (1 + exp(x)) for x < 0: no overflow either side */
RULE mg_result sigmoid_forward(mg_number x)
{
    double v = x.value;
    return result(v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v)), 0);
}
/* self.grad += s * (1 - s) * out.grad */
RULE mg_number sigmoid_dx(mg_number x, double out, mg_number g)
{
    return real(out * (1 - out) * g.value);
}

/* ---------------------------------------------------------------- logsumexp
 * log(sum(exp(x))) = m + log(sum(exp(x - m))), m the largest x (no overflow): eval.h
 * walks the children for m and the sum; these are the per-child pieces. */

/* the running maximum; a NaN wins, so that the result is NaN */
RULE double lse_max(double m, double x) { return x > m || isnan(x) ? x : m; }
RULE double lse_term(double x, double m) { return exp(x - m); }
RULE double lse_value(double m, double sum) { return m + log(sum); }
/* x_j.grad += exp(x_j - out) * out.grad: the softmax */
RULE mg_number lse_dx(mg_number x, double out, mg_number g)
{
    return real(exp(x.value - out) * g.value);
}

/* ---------------------------------------------------------------- pick
 * x[t] of k values x, t a number (an index given as data: a class label that a replay or
 * a lane changes). eval.h walks the children t, x0, ..., x_{k-1}; these are the pieces
 * over plain numbers, for one node or one lane. */

/* values[t] as a Python list indexes (-1 is the last), t a whole number: an int or a
 * float such as 3.0, since a lane holds floats. The position, or MG_ENOTINT where t is
 * not a whole number (1.5, nan, inf: Python's TypeError for list[1.5]) or MG_EBOUNDS
 * where it is outside -k..k-1 (list index out of range: IndexError). */
RULE int pick_index(double t, int32_t k, int32_t *out)
{
    if (!isfinite(t) || t != floor(t))
        return MG_ENOTINT;
    if (t < -(double)k || t >= (double)k)
        return MG_EBOUNDS;
    *out = (int32_t)(t < 0 ? t + k : t);
    return MG_OK;
}
/* out = x[t], an int if x[t] is */
RULE mg_result pick_forward(mg_number x) { return result(x.value, x.is_int); }
/* x[t].grad += out.grad; t gets nothing (an index has no derivative, as torch's gather) */
RULE mg_number pick_dx(mg_number x, double out, mg_number g) { return g; }

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif
