"""Differential fuzzing: random graphs over every op, against PyTorch float64.

Hypothesis draws a few leaves and a program of ops whose operands are any
earlier node (so subexpressions are shared); the same program runs on our
Values and on float64 tensors, and every node's data and every leaf's grad
must agree. An op whose operand is outside a comfortable domain (log of a
small number, a fractional power of a negative base, a kink of relu within rounding of
0) is replaced by tanh in both graphs, so no example is thrown away.

`make test` runs 100 examples; `make test-slow` runs the slow variant with
MG_FUZZ_EXAMPLES examples (3000). Not here: hand-picked edges (test_gradcheck.py).
"""
import math
import os

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings, strategies as st

from micrograd.engine import Value

EXPONENTS = [2, 3, -1, -2, 0, 1, 0.5, 1.5, -0.5, 2.5]
UNARY = ["neg", "relu", "tanh", "exp", "log", "sigmoid", "pow_const"]
BINARY = ["add", "mul", "sub", "div", "pow_value"]
OPS = BINARY + UNARY
LIMIT = 1e6   # no node's data grows past this: the comparison stays about rounding


def _safe(op, x, y, e):
    """Whether op applies to data x (and y) without landing near a pole, kink or overflow."""
    if op == "div":
        return abs(y) > 0.05
    if op == "pow_const":
        if e != int(e):
            return x > 0.05
        return e > 0 or abs(x) > 0.05
    if op == "pow_value":
        return x > 0.05 and abs(y) < 4
    if op == "log":
        return x > 0.05
    if op == "exp":
        return x < 10
    if op == "relu":
        return abs(x) > 1e-6
    return True


def _apply(op, a, b, e, c, is_torch):
    """One op on Values or tensors; c is a constant operand when b is None."""
    rhs = c if b is None else b
    if op == "add":
        return a + rhs
    if op == "mul":
        return a * rhs
    if op == "sub":
        return rhs - a if b is None and c < 0 else a - rhs   # both operand orders
    if op == "div":
        return a / rhs
    if op == "pow_value":
        return a ** b
    if op == "pow_const":
        return a ** e
    if op == "neg":
        return -a
    if is_torch:
        return getattr(torch, op)(a)
    return getattr(a, op)()


def _data(v):
    return v.item() if isinstance(v, torch.Tensor) else v.data


def run_program(leaves, steps, is_torch):
    """The nodes of the program (leaves first, then one per step), its output, and the
    ops it applied after the domain guards."""
    if is_torch:
        nodes = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    else:
        nodes = [Value(x) for x in leaves]
    used, applied = set(), []
    for op, i, j, e, c, with_const in steps:
        i, j = i % len(nodes), j % len(nodes)
        a, b = nodes[i], nodes[j]
        if op in BINARY and op != "pow_value" and with_const:
            b = None
        y = c if b is None else _data(b)
        if op not in BINARY:
            b = None
        if not _safe(op, _data(a), y, e):
            op, b = "tanh", None
        out = _apply(op, a, b, e, c, is_torch)
        if abs(_data(out)) > LIMIT:
            op, b, out = "tanh", None, _apply("tanh", a, None, e, c, is_torch)
        used.update([i] if b is None else [i, j])
        applied.append(op)
        nodes.append(out)
    sinks = [n for k, n in enumerate(nodes) if k >= len(leaves) and k not in used]
    out = sinks[0]
    for n in sinks[1:]:
        out = out + n
    return nodes, out, applied


def _close(a, b, scale):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * max(1.0, scale))


leaf = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
step = st.tuples(st.sampled_from(OPS), st.integers(0, 63), st.integers(0, 63),
                 st.sampled_from(EXPONENTS), st.floats(-2, 2).filter(lambda c: abs(c) > 0.05),
                 st.booleans())
programs = st.tuples(st.lists(leaf, min_size=1, max_size=4),
                     st.lists(step, min_size=1, max_size=24))
EVERY_OP = ([0.7, 1.3, -2.1],
            [(op, 0, 1, 2, 0.5, False) for op in OPS]
            + [("add", 2, 0, -1, 1.5, True), ("sub", 2, 0, 2, -0.5, True),
               ("pow_const", 1, 0, -1, 1, False), ("pow_const", 1, 0, 0.5, 1, False)])


def check_against_torch(program):
    leaves, steps = program
    ours, out, _ = run_program(leaves, steps, is_torch=False)
    theirs, tout, _ = run_program(leaves, steps, is_torch=True)
    out.backward()
    tout.backward()
    assert len(ours) == len(theirs)
    for k, (v, t) in enumerate(zip(ours, theirs)):
        assert _close(v.data, t.item(), abs(t.item())), f"node {k}: {v.data!r} vs {t.item()!r}"
    tgrads = [0.0 if t.grad is None else t.grad.item() for t in theirs[:len(leaves)]]
    scale = max(map(abs, tgrads))        # an unused leaf: None in PyTorch, 0 here
    for k, (v, tg) in enumerate(zip(ours, tgrads)):
        assert _close(v.grad, tg, scale), f"grad of leaf {k}: {v.grad!r} vs PyTorch {tg!r}"


def test_the_program_builder_reaches_every_op():
    # guards must not silently turn the whole fuzzer into a tanh fuzzer
    nodes, _, applied = run_program(*EVERY_OP, is_torch=False)
    assert set(applied) == set(OPS)
    assert {"+", "*", "**", "**2", "**-1", "**0.5", "ReLU", "tanh", "exp", "log",
            "sigmoid"} <= {n._op for n in nodes}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
@example(EVERY_OP)
def test_random_graphs_match_pytorch_forward_and_leaf_grads(program):
    check_against_torch(program)


EXAMPLES = int(os.environ.get("MG_FUZZ_EXAMPLES", "3000"))


@pytest.mark.slow              # tests/conftest.py skips it unless pytest -m slow
@settings(max_examples=max(EXAMPLES, 1), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_many_random_graphs_match_pytorch_forward_and_leaf_grads(program):
    check_against_torch(program)
