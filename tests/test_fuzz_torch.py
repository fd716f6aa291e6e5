"""Differential fuzzing: random graphs over every op, against PyTorch float64.

Hypothesis draws a few leaves and a program of ops (every form of every op in
tests/ops.py) whose operands are any earlier node (so subexpressions are shared);
the same program runs on our Values and on float64 tensors, and every node's data
and every leaf's grad must agree. An op whose operands are outside a comfortable
domain (the form's guard in tests/ops.py: log of a small number, a fractional power
of a negative base, a kink of relu within rounding of 0) is replaced by tanh in both
graphs, so no example is thrown away.

`make test` runs 100 examples; `make test-slow` runs the slow variant with
MG_FUZZ_EXAMPLES examples (3000). Not here: hand-picked edges (test_gradcheck.py).
"""
import math
import os

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings, strategies as st

from micrograd.engine import Value
import ops

FORMS = [f.name for f in ops.FORMS]   # every form of every op (tests/ops.py)
TANH = ops.BY_NAME["tanh"]
LIMIT = 1e6   # no node's data grows past this: the comparison stays about rounding


def _data(v):
    if isinstance(v, torch.Tensor):
        return v.item()
    return v.data if isinstance(v, Value) else v


def _operands(form, a, b, c, with_const, is_torch):
    """form's operands: a, then b, or the constant c (c - a rather than a - c when c < 0:
    both operand orders); a constant is a float for Values, an untracked tensor for torch."""
    if form.nargs == 1:
        return [a]
    if not with_const:
        return [a, b]
    const = torch.tensor(c, dtype=torch.float64) if is_torch else c
    return [a, const] if c > 0 else [const, a]


def run_program(leaves, steps, is_torch):
    """The nodes of the program (leaves first, then one per step), its output, and the
    forms it applied after the domain guards."""
    if is_torch:
        nodes = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    else:
        nodes = [Value(x) for x in leaves]
    used, applied = set(), []
    for name, i, j, c, with_const in steps:
        i, j = i % len(nodes), j % len(nodes)
        form = ops.BY_NAME[name]
        args = _operands(form, nodes[i], nodes[j], c, with_const, is_torch)
        if not form.safe(_data(args[0]), _data(args[-1])):
            form, args = TANH, [nodes[i]]
        out = form.on_torch(*args) if is_torch else form.build(*args)
        if abs(_data(out)) > LIMIT:
            form, args = TANH, [nodes[i]]
            out = form.on_torch(*args) if is_torch else form.build(*args)
        used.update([i] if form.nargs == 1 or with_const else [i, j])
        applied.append(form.name)
        nodes.append(out)
    sinks = [n for k, n in enumerate(nodes) if k >= len(leaves) and k not in used]
    out = sinks[0]
    for n in sinks[1:]:
        out = out + n
    return nodes, out, applied


def _close(a, b, scale):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * max(1.0, scale))


leaf = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
step = st.tuples(st.sampled_from(FORMS), st.integers(0, 63), st.integers(0, 63),
                 st.floats(-2, 2).filter(lambda c: abs(c) > 0.05), st.booleans())
programs = st.tuples(st.lists(leaf, min_size=1, max_size=4),
                     st.lists(step, min_size=1, max_size=24))
EVERY_OP = ([0.7, 1.3, -2.1],
            [(name, 0, 1, 0.5, False) for name in FORMS]
            + [("add", 2, 0, 1.5, True), ("sub", 2, 0, -0.5, True)])


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
    assert set(applied) == set(FORMS)
    labels = {n._op for n in nodes}
    assert {"+", "*", "**", "**2", "**-1", "**0.5", "ReLU", "tanh", "exp", "log",
            "sigmoid"} <= labels
    assert {op.label for op in ops.OPS if op.forms} <= labels


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
