"""Differential tests against micrograd 0.1.0: random expression DAGs, run by both.

Hypothesis draws batches of expression programs (shared subexpressions, Python int
and float constants on either side, only the ops micrograd 0.1.0 has); each batch
is serialized, run here and in one oracle subprocess by the same evaluator, and
compared: data bit-identical (repr and float.hex), _op labels equal, reprs equal
before backward, every grad within relative 1e-12 and of the same type after it.
Generation is derandomized: the same pytest session draws the same programs
(Hypothesis also mixes in constants from the local modules loaded), and a failure
prints its whole program as JSON. MG_FUZZ_EXAMPLES sets the size of the slow run
(make test-slow).

Not here: the ops micrograd lacks (tanh, exp, ...: test_engine.py checks them
against PyTorch).
"""
import json
import math
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from micrograd.engine import Value
from oracle import run_original
import ops

# The evaluator runs in both processes, so it is kept as source text. A program is
# a list of instructions, each appending one value to `vals`; an operand is
# ["v", k] (vals[k]) or ["c", number] (a Python constant).
EVALUATOR = '''
def evaluate(Value, prog):
    vals = []
    arg = lambda a: vals[a[1]] if a[0] == "v" else a[1]
    binary = {"+": lambda p, q: p + q, "-": lambda p, q: p - q,
              "*": lambda p, q: p * q, "/": lambda p, q: p / q}
    def bad_number(x):        # a Python int a float64 cannot hold exactly
        return isinstance(x, int) and abs(x) > 2 ** 53
    try:
        for ins in prog:
            kind = ins[0]
            if kind == "leaf":
                vals.append(Value(ins[1]))
            elif kind in binary:
                vals.append(binary[kind](arg(ins[1]), arg(ins[2])))
            elif kind == "**":
                vals.append(vals[ins[1]] ** ins[2])
            elif kind == "relu":
                vals.append(vals[ins[1]].relu())
            elif kind == "neg":
                vals.append(-vals[ins[1]])
            if isinstance(vals[-1].data, complex):      # ours raises ValueError instead
                return {"error": "complex", "at": len(vals) - 1}
            if bad_number(vals[-1].data):
                return {"skip": "bigint", "at": len(vals) - 1}
    except Exception as e:
        ins = prog[len(vals)]          # Python's pow to a complex, which may overflow
        cx = ins[0] == "**" and vals[ins[1]].data < 0 and ins[2] != int(ins[2])
        return {"error": type(e).__name__, "at": len(vals), "complex": cx}
    out = {"data": [repr(v.data) for v in vals],
           "hex": [float(v.data).hex() for v in vals],
           "op": [v._op for v in vals],
           "repr": [repr(v) for v in vals]}
    try:
        vals[-1].backward()
    except Exception as e:
        out["backward_error"] = type(e).__name__
        return out
    if any(bad_number(v.grad) for v in vals):
        out["backward_error"] = "bigint"
        return out
    out["grad"] = [repr(v.grad) for v in vals]
    return out
'''
_ns = {}
exec(EVALUATOR, _ns)
evaluate = _ns["evaluate"]

# ---------------------------------------------------------------- programs

ints = st.integers(-5, 5)
floats = st.one_of(st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64),
                   st.sampled_from([0.0, -0.0, 0.1, 0.5, 1e-3, 2.5, 1e3]))
numbers = st.one_of(ints, floats)
exponents = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 1.5, 2.0, -0.5, -1.0, 3.0]))


@st.composite
def programs(draw):
    prog = [["leaf", draw(numbers)] for _ in range(draw(st.integers(1, 4)))]
    for _ in range(draw(st.integers(1, 12))):
        var = ["v", draw(st.integers(0, len(prog) - 1))]     # any earlier value: sharing
        kind = draw(st.sampled_from(["+", "-", "*", "/", "**", "relu", "neg"]))
        if kind in ("**", "relu", "neg"):
            prog.append([kind, var[1]] + ([draw(exponents)] if kind == "**" else []))
            continue
        other = draw(st.one_of(st.builds(lambda k: ["v", k], st.integers(0, len(prog) - 1)),
                               st.builds(lambda c: ["c", c], numbers)))
        prog.append([kind] + ([var, other] if draw(st.booleans()) else [other, var]))
    return prog


def run_oracle(progs):
    return run_original(f"""
        import json
        from micrograd.engine import Value
        {EVALUATOR.strip().replace(chr(10), chr(10) + ' ' * 8)}
        result = [evaluate(Value, p) for p in json.loads({json.dumps(progs)!r})]
    """)


def same_grad(ours, theirs):
    a, b = float(ours), float(theirs)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def check(prog, ours, theirs):
    prog = json.dumps(prog)       # the whole program in a failure message
    if "skip" in theirs:          # a Python int beyond 2**53: a float64 engine rounds it
        return                    # (by design, engine.py's docstring)
    if theirs.get("error") == "complex" or theirs.get("complex"):   # ours: ValueError
        theirs = dict(theirs, error="ValueError", complex=True)
    assert (ours.get("error"), ours.get("at")) == (theirs.get("error"), theirs.get("at")), prog
    if "error" in theirs:
        return
    for key in ("data", "hex", "op", "repr"):
        assert ours[key] == theirs[key], f"{key} differs in {prog}"
    if "backward_error" in theirs:    # micrograd raised inside backward; ours gives inf/nan
        return
    for k, (g, h) in enumerate(zip(ours["grad"], theirs["grad"])):
        where = f"grad of value {k}: ours {g}, micrograd {h}, in {prog}"
        assert g.lstrip("-").isdigit() == h.lstrip("-").isdigit(), where    # int or float
        assert same_grad(g, h), where


def fuzz(batch):
    """Check every program of the batch against micrograd 0.1.0."""
    theirs = run_oracle(batch)
    for prog, t in zip(batch, theirs):
        check(prog, evaluate(Value, prog), t)
    # most programs get through backward, so the grad comparison is exercised
    assert sum("grad" in t for t in theirs) >= len(batch) // 3


# No shrinking: each step would start an oracle process; a failure names its program.
COMMON = dict(derandomize=True, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_fuzz(batches, size):
    @settings(max_examples=batches, **COMMON)
    @given(st.lists(programs(), min_size=size, max_size=size))
    def one_batch(batch):
        fuzz(batch)

    one_batch()


def test_random_dags_match_micrograd():
    run_fuzz(batches=8, size=25)        # 200 programs, 8 oracle subprocesses


@pytest.mark.slow
def test_random_dags_match_micrograd_many():
    run_fuzz(batches=max(1, int(os.environ.get("MG_FUZZ_EXAMPLES", "3000")) // 100), size=100)


# the op of the node each kind of instruction builds (`a - b` is `a + (-b)`)
KIND_OP = {"+": "MG_ADD", "-": "MG_ADD", "*": "MG_MUL", "/": "MG_MUL", "neg": "MG_MUL",
           "**": "MG_POW", "relu": "MG_RELU"}


def test_generated_programs_exercise_every_kind_and_both_sides():
    """The generator is not degenerate: the checks above see every case, and every op
    tests/ops.py says micrograd 0.1.0 has."""
    seen = set()

    @settings(max_examples=8, **COMMON)
    @given(st.lists(programs(), min_size=25, max_size=25))
    def collect(batch):
        for prog in batch:
            for ins in prog:
                seen.add(ins[0])
                if ins[0] in "+-*/":
                    seen.add(("const", "left" if ins[1][0] == "c" else "right")
                             if "c" in (ins[1][0], ins[2][0]) else "two values")
                    if ins[1] == ins[2]:
                        seen.add("same operand twice")
    collect()
    built = {KIND_OP[k] for k in seen if k in KIND_OP}
    assert {op.enum for op in ops.OPS if op.in_010 and op.forms} <= built
    assert {"leaf", "+", "-", "*", "/", "**", "relu", "neg", ("const", "left"),
            ("const", "right"), "two values", "same operand twice"} <= seen
