"""Numerical gradient checks: every op, composite functions, and the edges.

Oracles: central finite differences (micrograd.gradcheck) for every op, and
PyTorch float64 for the edges where finite differences say nothing: relu at 0,
NaN and inf. Not here: random graphs (test_fuzz_torch.py), the engine's own
API (test_engine.py).
"""
import math

import pytest
import torch

from micrograd.engine import Value
from micrograd.gradcheck import GradcheckError, gradcheck
import ops

NAN, INF = float("nan"), float("inf")

# ---------------------------------------------------------------- gradcheck itself


def test_gradcheck_passes_a_correct_gradient():
    assert gradcheck(lambda a, b: a * b + a.tanh(), [0.3, -1.2]) is True


def test_gradcheck_names_the_input_and_both_numbers_when_backward_is_wrong():
    # data depends on a (slope 2a = 3.0, give or take the differencing error), but the result is a fresh leaf: backward gives 0
    def detached_square(a):
        return Value(a.data ** 2)
    with pytest.raises(GradcheckError, match=r"input 0 .*backward gives 0\.0.*give 2\.9999"):
        gradcheck(detached_square, [1.5])


def test_gradcheck_returns_false_instead_of_raising_when_asked():
    assert gradcheck(lambda a: Value(a.data * 3), [1.0], raise_exception=False) is False


def test_gradcheck_rejects_a_function_that_does_not_return_a_value():
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda a: a.data * 2, [1.0])


def test_gradcheck_leaves_the_callers_values_untouched():
    x = Value(0.7)
    gradcheck(lambda a: a * a, [x])
    assert x.grad == 0 and x.data == 0.7


# ---------------------------------------------------------------- every op

# every form of every op (tests/ops.py), at each of its points
AT = [(f, xs) for f in ops.FORMS for xs in f.at]


@pytest.mark.parametrize("form, inputs", AT, ids=[f"{f.name}{list(xs)}" for f, xs in AT])
def test_backward_matches_finite_differences_for_every_op(form, inputs):
    assert gradcheck(form.build, list(inputs), atol=1e-8, rtol=1e-6)


def _neuron(w1, w2, x1, x2, b):
    return (w1 * x1 + w2 * x2 + b).tanh()


def _svm_loss(w, b, x, y):
    # the demo's max-margin loss plus L2, on two points
    s1, s2 = (w * x + b), (w * -x + b)
    return (1 + -y * s1).relu() + (1 + y * s2).relu() + 1e-4 * (w * w + b * b)


def _softmax_cross_entropy(a, b, c):
    ea, eb, ec = a.exp(), b.exp(), c.exp()
    return -(ea / (ea + eb + ec)).log()


def _binary_cross_entropy(z, t):
    p = z.sigmoid()
    return -(t * p.log() + (1 - t) * (1 - p).log())


def _deep_chain(x):
    for _ in range(200):
        x = x * 1.01 + 0.001
    return x.tanh()


def _shared_subexpressions(x, y):
    s = x * y
    return s * s + s.exp() + (s / x) ** 2


def _lecture_example(a, b):
    # micrograd's README example
    c = a + b
    d = a * b + b ** 3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g += 10.0 / f
    return g


def _power_tower(x, y):
    return (x ** y) ** (y ** 0.5) + 3.0 ** (x * y)


COMPOSITES = {
    "neuron": (_neuron, [0.5, -0.3, 1.2, 0.8, 0.1]),
    "svm_loss": (_svm_loss, [0.6, -0.2, 1.1, 1.0]),
    "softmax_cross_entropy": (_softmax_cross_entropy, [0.2, -1.1, 0.7]),
    "binary_cross_entropy": (_binary_cross_entropy, [0.3, 0.8]),
    "deep_chain": (_deep_chain, [0.05]),
    "shared_subexpressions": (_shared_subexpressions, [0.9, -0.6]),
    "lecture_example": (_lecture_example, [-4.0, 2.0]),
    "power_tower": (_power_tower, [1.4, 0.8]),
}


@pytest.mark.parametrize("name", COMPOSITES)
def test_backward_matches_finite_differences_for_composite_functions(name):
    f, inputs = COMPOSITES[name]
    assert gradcheck(f, inputs, atol=1e-7, rtol=1e-6)


# ---------------------------------------------------------------- torch helpers


def _torch_grads(f, xs):
    """f's data and every input's grad under PyTorch float64 (0.0 for an unused input)."""
    ts = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    out.backward()
    return out.item(), [0.0 if t.grad is None else t.grad.item() for t in ts]


def _ours(f, xs):
    vs = [Value(float(x)) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


def _same(a, b, rel=1e-12):
    """Equal as PyTorch's float64 results would be: nan matches nan, inf matches inf."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)


def _assert_as_torch(ours, theirs, rel=1e-12):
    (data, grads), (tdata, tgrads) = ours, theirs
    assert _same(data, tdata, rel), f"data {data!r}, PyTorch {tdata!r}"
    for k, (g, tg) in enumerate(zip(grads, tgrads)):
        assert _same(g, tg, rel), f"grad of input {k}: {g!r}, PyTorch {tg!r}"


# ---------------------------------------------------------------- relu at its kink


def test_relu_grad_at_zero_is_zero_as_in_pytorch():
    # micrograd: (out.data > 0) * out.grad; PyTorch: threshold_backward gives 0 at 0
    _assert_as_torch(_ours(lambda a: a.relu(), [0.0]), _torch_grads(torch.relu, [0.0]))
    _assert_as_torch(_ours(lambda a: a.relu(), [-0.0]), _torch_grads(torch.relu, [-0.0]))


def test_relu_at_zero_is_where_finite_differences_disagree():
    # the kink: central differences see the average slope 0.5; backward picks 0
    with pytest.raises(GradcheckError, match="backward gives 0.0"):
        gradcheck(lambda a: a.relu(), [0.0])


@pytest.mark.parametrize("x", [1e-3, -1e-3, 1e-12, -1e-12])
def test_relu_next_to_zero_matches_finite_differences(x):
    assert gradcheck(lambda a: a.relu(), [x], eps=abs(x) / 10)


# ---------------------------------------------------------------- pow with negative bases


@pytest.mark.parametrize("base", [-3.0, -1.0, -0.5, -1e-3])
@pytest.mark.parametrize("exponent", [2, 3, 4, -1, -2, -3, 0, 1])
def test_pow_of_negative_base_with_integer_exponent_matches_finite_differences(base, exponent):
    assert gradcheck(lambda a: a ** exponent, [base], eps=1e-6 * abs(base), atol=1e-9, rtol=1e-5)


@pytest.mark.parametrize("base", [-3.0, -0.5])
@pytest.mark.parametrize("exponent", [2, 3, -1, -2])
def test_pow_of_negative_base_with_integer_exponent_matches_pytorch(base, exponent):
    _assert_as_torch(_ours(lambda a: a ** exponent, [base]),
                     _torch_grads(lambda a: a ** exponent, [base]))


@pytest.mark.parametrize("base", [-2.0, -0.5])
@pytest.mark.parametrize("exponent", [2.0, 3.0, -1.0])
def test_value_exponent_of_negative_base_gives_nan_exponent_grad_as_pytorch(base, exponent):
    # d(x**y)/dy = x**y * log(x): log of a negative number is nan in PyTorch
    ours, theirs = _ours(lambda a, b: a ** b, [base, exponent]), _torch_grads(torch.pow, [base, exponent])
    _assert_as_torch(ours, theirs)
    assert math.isnan(ours[1][1]) and math.isfinite(ours[1][0])


@pytest.mark.parametrize("base", [-2.0, -0.5])
def test_value_exponent_base_grad_matches_finite_differences_for_negative_base(base):
    assert gradcheck(lambda a: a ** Value(3.0), [base], atol=1e-8, rtol=1e-6)


# ---------------------------------------------------------------- tiny and huge magnitudes

MAGNITUDES = {
    "mul_tiny": (lambda a, b: a * b, [1e-300, 3e-10]),
    "mul_huge": (lambda a, b: a * b, [1e150, -2e140]),
    "add_tiny": (lambda a, b: a + b, [1e-308, 5e-324]),
    "div_tiny_by_huge": (lambda a, b: a / b, [1e-200, 1e100]),
    "log_tiny": (lambda a: a.log(), [1e-300]),
    "log_huge": (lambda a: a.log(), [1e300]),
    "exp_near_overflow": (lambda a: a.exp(), [709.0]),
    "exp_near_underflow": (lambda a: a.exp(), [-700.0]),
    "tanh_tiny": (lambda a: a.tanh(), [1e-300]),
    "tanh_huge": (lambda a: a.tanh(), [1e300]),
    "sigmoid_huge_negative": (lambda a: a.sigmoid(), [-700.0]),
    "sigmoid_huge_positive": (lambda a: a.sigmoid(), [700.0]),
    "pow_sqrt_tiny": (lambda a: a ** 0.5, [1e-300]),
    "pow_square_huge": (lambda a: a ** 2, [1e150]),
    "pow_inverse_tiny": (lambda a: a ** -1, [1e-150]),
    "relu_tiny": (lambda a: a.relu(), [5e-324]),
}


@pytest.mark.parametrize("name", MAGNITUDES)
def test_backward_matches_pytorch_at_tiny_and_huge_magnitudes(name):
    f, xs = MAGNITUDES[name]
    torch_f = {m: ops.BY_NAME[m].torch for m in ops.CALLS}
    def g(*ts):   # the same function over tensors, where it calls a Value method
        op = name.split("_")[0]
        return torch_f[op](*ts) if op in torch_f else f(*ts)
    _assert_as_torch(_ours(f, xs), _torch_grads(g, xs), rel=1e-12)


@pytest.mark.parametrize("name", ["mul_tiny", "mul_huge", "div_tiny_by_huge", "log_tiny",
                                  "log_huge", "exp_near_overflow", "exp_near_underflow",
                                  "pow_sqrt_tiny", "pow_square_huge", "pow_inverse_tiny"])
def test_backward_matches_finite_differences_at_tiny_and_huge_magnitudes(name):
    f, xs = MAGNITUDES[name]
    # a relative step, since an absolute one vanishes next to 1e150 or swamps 1e-300
    for k in range(len(xs)):
        def one(a, k=k):
            args = [Value(x) for x in xs]
            args[k] = a
            return f(*args)
        assert gradcheck(one, [xs[k]], eps=1e-6 * abs(xs[k]), atol=0, rtol=1e-5)


# ---------------------------------------------------------------- nan and inf

# (name, our function, PyTorch's, inputs): no Python exception applies to any of
# these (math.log(nan) is nan, inf * 0 is nan, float('inf') ** 2 is inf)
PROPAGATING = [
    ("add_inf_minus_inf", lambda a, b: a + b, torch.add, [INF, -INF]),
    ("add_nan", lambda a, b: a + b, torch.add, [NAN, 1.0]),
    ("mul_inf_by_zero", lambda a, b: a * b, torch.mul, [INF, 0.0]),
    ("mul_nan", lambda a, b: a * b, torch.mul, [NAN, 2.0]),
    ("mul_inf", lambda a, b: a * b, torch.mul, [INF, -2.0]),
    ("sub_inf_from_inf", lambda a, b: a - b, torch.sub, [INF, INF]),
    ("div_by_inf", lambda a, b: a / b, torch.div, [1.0, INF]),
    ("div_inf_by_inf", lambda a, b: a / b, torch.div, [INF, INF]),
    ("div_nan", lambda a, b: a / b, torch.div, [NAN, 2.0]),
    ("neg_inf", lambda a: -a, torch.neg, [INF]),
    ("neg_nan", lambda a: -a, torch.neg, [NAN]),
    ("pow_inf_squared", lambda a: a ** 2, lambda a: a ** 2, [INF]),
    ("pow_minus_inf_cubed", lambda a: a ** 3, lambda a: a ** 3, [-INF]),
    ("pow_minus_inf_squared", lambda a: a ** 2, lambda a: a ** 2, [-INF]),
    ("pow_inf_inverse", lambda a: a ** -1, lambda a: a ** -1, [INF]),
    ("pow_inf_sqrt", lambda a: a ** 0.5, lambda a: a ** 0.5, [INF]),
    ("pow_nan_squared", lambda a: a ** 2, lambda a: a ** 2, [NAN]),
    ("pow_zero_sqrt", lambda a: a ** 0.5, lambda a: a ** 0.5, [0.0]),
    ("pow_value_inf_exponent", lambda a, b: a ** b, torch.pow, [2.0, INF]),
    ("pow_value_inf_exponent_small_base", lambda a, b: a ** b, torch.pow, [0.5, INF]),
    ("pow_value_zero_base", lambda a, b: a ** b, torch.pow, [0.0, 2.0]),
    ("pow_value_nan_exponent", lambda a, b: a ** b, torch.pow, [2.0, NAN]),
    ("relu_inf", lambda a: a.relu(), torch.relu, [INF]),
    ("relu_minus_inf", lambda a: a.relu(), torch.relu, [-INF]),
    ("tanh_inf", lambda a: a.tanh(), torch.tanh, [INF]),
    ("tanh_minus_inf", lambda a: a.tanh(), torch.tanh, [-INF]),
    ("tanh_nan", lambda a: a.tanh(), torch.tanh, [NAN]),
    ("exp_inf", lambda a: a.exp(), torch.exp, [INF]),
    ("exp_minus_inf", lambda a: a.exp(), torch.exp, [-INF]),
    ("exp_nan", lambda a: a.exp(), torch.exp, [NAN]),
    ("log_inf", lambda a: a.log(), torch.log, [INF]),
    ("log_nan", lambda a: a.log(), torch.log, [NAN]),
    ("sigmoid_inf", lambda a: a.sigmoid(), torch.sigmoid, [INF]),
    ("sigmoid_minus_inf", lambda a: a.sigmoid(), torch.sigmoid, [-INF]),
    ("sigmoid_nan", lambda a: a.sigmoid(), torch.sigmoid, [NAN]),
    ("nan_through_a_neuron", lambda a, b: (a * b + 1).tanh(), lambda a, b: (a * b + 1).tanh(),
     [NAN, 0.5]),
    ("inf_saturates_a_neuron", lambda a, b: (a * b + 1).tanh(), lambda a, b: (a * b + 1).tanh(),
     [INF, 0.5]),
]


@pytest.mark.parametrize("name,f,torch_f,xs", PROPAGATING, ids=[p[0] for p in PROPAGATING])
def test_nan_and_inf_propagate_as_in_pytorch(name, f, torch_f, xs):
    _assert_as_torch(_ours(f, xs), _torch_grads(torch_f, xs))


# Where micrograd 0.1.0's own formula, which we keep, gives another number than
# PyTorch (which special-cases these points). micrograd's formula is the oracle.
def test_relu_grad_of_nan_is_micrograds_zero_where_pytorch_passes_the_grad():
    x = Value(NAN)
    y = x.relu()
    y.backward()
    assert math.isnan(y.data) and x.grad == (NAN > 0) * 1 == 0
    assert _torch_grads(torch.relu, [NAN])[1] == [1.0]


@pytest.mark.parametrize("base", [0.0, -0.0])
def test_pow_zero_exponent_grad_is_pytorchs_zero_where_micrograd_would_raise(base):
    # engine.py promises: where micrograd's Python raises in a gradient, the grad is PyTorch's.
    # micrograd: 0 * 0.0**-1 raises ZeroDivisionError; PyTorch special-cases exponent 0 to 0.
    _assert_as_torch(_ours(lambda a: a ** 0, [base]), _torch_grads(lambda a: a ** 0, [base]))


@pytest.mark.parametrize("name,f,xs", [
    ("relu_minus_inf_is_zero", lambda a: a.relu(), [-INF]),
    ("exp_of_minus_inf_is_zero", lambda a: a.exp(), [-INF]),
])
def test_infinite_inputs_give_exact_zeros(name, f, xs):
    data, grads = _ours(f, xs)
    assert data == 0.0 and grads == [0.0]


def test_python_exceptions_still_apply_to_nan_and_inf_where_python_raises():
    # math.log(-inf) and math.log(0.0) raise ValueError; float overflow raises OverflowError
    with pytest.raises(ValueError):
        Value(-INF).log()
    with pytest.raises(ValueError):
        Value(0.0).log()
    with pytest.raises(OverflowError):
        Value(1e200) ** 2
    with pytest.raises(OverflowError):
        Value(710.0).exp()
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / Value(0.0)
