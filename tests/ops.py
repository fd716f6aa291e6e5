"""The tests' one table of the engine's ops: adding an op to the engine is one row here.

A row (Op) is one op of csrc/mg.h's mg_op enum: its label, arity and kind as C gives
them (test_ops_table.py checks they agree, and that every op below MG_OP_COUNT has a
row), whether micrograd 0.1.0 has it, and its forms. A form is one way a user builds
it from Values (`a - b` is a form of MG_ADD, since it is `a + (-b)`: every form's
output node is its row's op), with its PyTorch equivalent, the domain its random
inputs are drawn from, and the points finite differences check it at. The op-driven
tests draw from FORMS: PyTorch and finite differences (test_engine.py,
test_gradcheck.py), the fuzzers (test_fuzz_torch.py, test_replay.py), the
Value methods of every CALL op (CALLS: test_faults.py, test_manual_backward.py).
Not here: tests of one op's particular behaviour (relu's int 0, pow's errors).
"""
from typing import Callable, NamedTuple

import torch

from micrograd.engine import Value, dot, logsumexp, pick

N = -1                # arity of an n-ary op (C's mg_op_arity): children in the edges array
F64 = torch.float64


def anywhere(x, y):
    return True


class Form(NamedTuple):
    name: str                 # the test id: "sub", "pow_float", "rdiv"
    build: Callable           # on Values; on float64 tensors too, unless `torch` is given
    torch: Callable = None    # the same function on tensors, where build has no tensor meaning
    domain: str = "any"       # random x: "any" sign, or "pos" (log, fractional powers, x ** y)
    exact: bool = False       # forward bit-identical to PyTorch's (one IEEE op, or a sign flip)
    at: tuple = ()            # finite differences at each of these inputs (test_gradcheck.py)
    step: float = 1e-6        # test_engine.py's finite differences step, times max(1, |x|)
    safe: Callable = anywhere # (x, y) -> whether the inputs sit clear of poles, kinks and
                              # overflow: the fuzzer replaces an op by tanh where they do not

    @property
    def nargs(self):
        return self.build.__code__.co_argcount

    def on_torch(self, *tensors):
        return (self.torch or self.build)(*tensors)


class Op(NamedTuple):
    enum: str                 # its name in mg.h: getattr(lib, enum) is its value
    label: str                # C's mg_op_name, micrograd's _op (MG_POW adds the exponent: "**2")
    arity: int                # children in C: 0, 1, 2, or N
    kind: str                 # LEAF, INFIX, CALL, NARY, PYTHON: lib.MG_KIND_<kind>
    in_010: bool              # micrograd 0.1.0 has it (the behavioural oracle, test_oracle.py)
    forms: tuple = ()         # how the tests build it
    call: str = ""            # CALL ops: the Value method
    no_torch: str = ""        # why no form is compared with PyTorch, when forms is empty


def power(e, domain="any", at=(0.4,), step=1e-6):
    """x ** e for a constant e: fractional exponents need a positive base, negative
    ones a base clear of 0."""
    if e == int(e):
        safe = lambda x, y: e > 0 or abs(x) > 0.05
    else:
        safe = lambda x, y: x > 0.05
    return Form(f"pow_{e}", lambda x: x ** e, domain=domain, at=tuple((a,) for a in at),
                step=step, safe=safe)


def call(enum, label, method, at=((0.4,),), safe=anywhere, exact=False, domain="any",
         torch_rule=None):
    """An op written x.name(): Value's method, and torch's function of that name unless
    torch_rule is given (torch.nn.functional.softplus, say)."""
    form = Form(method, lambda x: getattr(x, method)(), torch_rule or getattr(torch, method),
                domain=domain, exact=exact, at=at, safe=safe)
    return Op(enum, label, 1, "CALL", enum == "MG_RELU", (form,), call=method)


def _lse_torch(x, y):
    return torch.logsumexp(torch.stack([x, y, torch.tensor(1.0, dtype=F64)]), 0)


OPS = (
    Op("MG_LEAF", "", 0, "LEAF", True,
       no_torch="a leaf has no rule: every form starts from leaves"),
    Op("MG_ADD", "+", 2, "INFIX", True, (
        Form("add", lambda x, y: x + y, exact=True, at=((0.4, -1.3),)),
        Form("sub", lambda x, y: x - y, exact=True, at=((0.4, -1.3),)),    # x + (-y)
        Form("radd", lambda x: 2 + x, exact=True, at=((0.4,),)),
        Form("radd_float", lambda x: 2.5 + x, exact=True, at=((0.4,),)),
        Form("rsub", lambda x: 2 - x, exact=True, at=((0.4,),)),
        Form("rsub_float", lambda x: 1.5 - x, exact=True, at=((0.4,),)),
    )),
    Op("MG_MUL", "*", 2, "INFIX", True, (
        Form("mul", lambda x, y: x * y, exact=True, at=((0.4, -1.3),)),
        Form("div", lambda x, y: x / y, at=((0.4, -1.3),),                # x * y**-1
             safe=lambda x, y: abs(y) > 0.05),
        Form("neg", lambda x: -x, exact=True, at=((0.4,),)),              # x * -1
        Form("rmul", lambda x: 2 * x, exact=True, at=((0.4,),)),
        Form("rmul_negative", lambda x: -3 * x, exact=True, at=((0.4,),)),
        Form("rdiv", lambda x: 2 / x, at=((0.4,),), safe=lambda x, y: abs(x) > 0.05),
        Form("rdiv_float", lambda x: 2.0 / x, at=((0.4,),), safe=lambda x, y: abs(x) > 0.05),
    )),
    Op("MG_POW", "**", 1, "INFIX", True, (
        power(2), power(3, at=(-0.7,)), power(-1), power(-2), power(0), power(1),
        power(0.5, "pos"), power(1.5, "pos"), power(2.5, "pos"), power(-0.5, "pos"),
        power(-1.5, "pos", at=(1.7,), step=1e-8),   # steep near 0
    )),
    call("MG_RELU", "ReLU", "relu", at=((0.4,), (-0.4,)), exact=True,
         safe=lambda x, y: abs(x) > 1e-6),
    call("MG_TANH", "tanh", "tanh"),
    call("MG_EXP", "exp", "exp", safe=lambda x, y: x < 10),
    call("MG_LOG", "log", "log", domain="pos", safe=lambda x, y: x > 0.05),
    call("MG_SIGMOID", "sigmoid", "sigmoid", at=((0.4,), (-2.4,))),
    Op("MG_POWV", "**", 2, "INFIX", False, (
        Form("pow_value", lambda x, y: x ** y, domain="pos", at=((1.3, 0.7),),
             safe=lambda x, y: x > 0.05 and abs(y) < 4),
        Form("rpow", lambda x: 2 ** x, at=((0.4,),), safe=lambda x, y: abs(x) < 10),
        Form("rpow_float", lambda x: 0.5 ** x, at=((0.4,),), safe=lambda x, y: abs(x) < 10),
        Form("rpow_float_base", lambda x: 2.0 ** x, at=((0.4,),),
             safe=lambda x, y: abs(x) < 10),
    )),
    Op("MG_DOT", "dot", N, "NARY", False, (
        Form("dot", lambda x, y: dot([x, y], [y, 0.5], x, fused=True),    # x + x*y + y*0.5
             lambda x, y: x + x * y + y * 0.5, at=((0.4, -1.3),)),
    )),
    Op("MG_LSE", "logsumexp", N, "NARY", False, (
        Form("logsumexp", lambda x, y: logsumexp([x, y, 1.0]), _lse_torch, at=((0.4, -1.3),)),
    )),
    Op("MG_PICK", "pick", N, "NARY", False, (     # the index a constant: its derivative is none
        Form("pick", lambda x, y: pick([x, y, 0.5], 1),
             lambda x, y: torch.stack([x, y, torch.tensor(0.5, dtype=F64)])[1],
             exact=True, at=((0.4, -1.3),)),
        Form("pick_negative", lambda x, y: pick([x, y], Value(-2.0)),
             lambda x, y: torch.stack([x, y])[-2],
             exact=True, at=((0.4, -1.3),)),
    )),
    Op("MG_PY", "python", N, "PYTHON", True,
       no_torch="its rule is Python code of the user's: test_python_ops.py compares graphs "
                "of such ops (sin, abs, hypot) with PyTorch"),
)

FORMS = [f for op in OPS for f in op.forms]
CALLS = [op.call for op in OPS if op.kind == "CALL"]    # Value methods: x.tanh()
BY_NAME = {f.name: f for f in FORMS}
OP_OF = {f.name: op for op in OPS for f in op.forms}
assert len(BY_NAME) == len(FORMS), "form names are test ids: one each"


def apply(form, x, y):
    """form on x (and y, for a form of two operands): Values or tensors."""
    args = (x, y)[:form.nargs]
    return form.on_torch(*args) if isinstance(x, torch.Tensor) else form.build(*args)
