"""Every attribute of micrograd 0.1.0's Value, Module, Neuron, Layer and MLP exists here.

micrograd 0.1.0, run in a subprocess, lists what each class defines (dunders and
underscore names included), the instance attributes of small objects (Value's
data, grad, _backward, _prev, _op; Neuron's w, b, nonlin; ...), and the signature of
everything callable. Ours must have each name, accept every call micrograd's accepts
(same parameter names and kinds, defaults where it has them, extras optional), and
hold instance attributes of the same types. Also: what `from ... import *` gives.
Not here: reprs, _op labels and numbers (test_compat.py), the documented star-import
names (test_manual_backward.py).
"""
import inspect

import pytest

import micrograd.engine
import micrograd.nn
from micrograd.engine import Value
from micrograd.nn import MLP, Layer, Module, Neuron
from oracle import run_original

CLASSES = {"Value": Value, "Module": Module, "Neuron": Neuron, "Layer": Layer, "MLP": MLP}


def signature_of(f):
    """f's parameters as [name, kind, has a default], or None if inspect can't tell."""
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name, p.default is not p.empty] for p in sig.parameters.values()]


def describe(x):
    """What a compatible attribute must match: its type, and its signature if callable,
    and for a list or set the types of its items."""
    d = {"type": type(x).__name__, "callable": callable(x)}
    if callable(x):
        d["signature"] = signature_of(x)
    if isinstance(x, (list, set)):
        d["items"] = sorted({type(item).__name__ for item in x})
    return d


def make_instances(Value, Neuron, Layer, MLP):
    return {"Value leaf": Value(2.0), "Value op node": Value(2.0) * 3,
            "Neuron": Neuron(2), "Layer": Layer(2, 3), "MLP": MLP(2, [3, 1])}


# The oracle runs the three functions above, as written here, so both sides are
# described by the same code.
ORACLE_PROGRAM = "\n".join([
    "import inspect",
    "from micrograd.engine import Value",
    "from micrograd.nn import Module, Neuron, Layer, MLP",
    inspect.getsource(signature_of),
    inspect.getsource(describe),
    inspect.getsource(make_instances),
    """
classes = {"Value": Value, "Module": Module, "Neuron": Neuron, "Layer": Layer, "MLP": MLP}
result = {
    # names defined on the class or its micrograd bases: all but object's, unchanged
    "classes": {name: {"constructor": signature_of(cls),
                       "attributes": {a: describe(getattr(cls, a)) for a in sorted(dir(cls))
                                      if any(a in vars(c) for c in cls.__mro__ if c is not object)}}
                for name, cls in classes.items()},
    "instances": {name: {a: describe(x) for a, x in vars(obj).items()}
                  for name, obj in make_instances(Value, Neuron, Layer, MLP).items()},
}
"""])


@pytest.fixture(scope="module")
def theirs():
    return run_original(ORACLE_PROGRAM)


POSITIONAL = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
VARIADIC = ("VAR_POSITIONAL", "VAR_KEYWORD")


def incompatibilities(theirs, ours):
    """Why some call that binds to signature `theirs` would not bind to `ours` ([] if none).

    Each of their parameters is in ours with the same name and kind, and a default if
    theirs has one; their positional parameters come first in ours, in their order;
    whatever else ours has is optional.
    """
    if theirs is None:
        return []
    if ours is None:
        return ["ours has no signature inspect can read"]
    problems = []
    mine = {name: (kind, default) for name, kind, default in ours}
    for name, kind, default in theirs:
        if name not in mine:
            problems.append(f"no parameter {name!r} ({kind})")
        elif mine[name][0] != kind:
            problems.append(f"{name!r} is {mine[name][0]}, micrograd's is {kind}")
        elif default and not mine[name][1]:
            problems.append(f"{name!r} has no default, micrograd's has one")
    their_pos = [name for name, kind, _ in theirs if kind in POSITIONAL]
    our_pos = [name for name, kind, _ in ours if kind in POSITIONAL]
    if our_pos[:len(their_pos)] != their_pos:
        problems.append(f"positional parameters {our_pos}, micrograd's {their_pos}")
    known = {name for name, _, _ in theirs}
    problems += [f"extra parameter {name!r} has no default" for name, kind, default in ours
                 if name not in known and kind not in VARIADIC and not default]
    return problems


def show(sig):
    """A signature as Python writes it, near enough: (self, /, *args, data=..., **kwargs)."""
    if sig is None:
        return "(?)"
    parts = []
    for k, (name, kind, default) in enumerate(sig):
        before = sig[k - 1][1] if k else None
        if kind == "KEYWORD_ONLY" and before not in ("KEYWORD_ONLY", "VAR_POSITIONAL"):
            parts.append("*")
        parts.append({"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(kind, "") + name
                     + ("=..." if default else ""))
        if kind == "POSITIONAL_ONLY" and (k + 1 == len(sig) or sig[k + 1][1] != kind):
            parts.append("/")
    return "(" + ", ".join(parts) + ")"


def mismatch(what, theirs, ours):
    """One line saying why ours does not take micrograd's calls, or None if it does."""
    why = incompatibilities(theirs, ours)
    return f"{what}{show(ours)}, micrograd's {show(theirs)}: {'; '.join(why)}" if why else None


@pytest.mark.parametrize("theirs_sig, ours_sig, ok", [
    ([["self", "POSITIONAL_OR_KEYWORD", False], ["other", "POSITIONAL_OR_KEYWORD", False]],
     [["self", "POSITIONAL_OR_KEYWORD", False], ["other", "POSITIONAL_OR_KEYWORD", False]], True),
    ([["nin", "POSITIONAL_OR_KEYWORD", False]],                         # an optional extra
     [["nin", "POSITIONAL_OR_KEYWORD", False], ["fused", "KEYWORD_ONLY", True]], True),
    ([["x", "POSITIONAL_OR_KEYWORD", False]], [["y", "POSITIONAL_OR_KEYWORD", False]], False),
    ([["x", "POSITIONAL_OR_KEYWORD", False]], [["x", "POSITIONAL_ONLY", False]], False),
    ([["x", "POSITIONAL_OR_KEYWORD", True]], [["x", "POSITIONAL_OR_KEYWORD", False]], False),
    ([], [["x", "POSITIONAL_OR_KEYWORD", False]], False),               # a required extra
    ([["a", "POSITIONAL_OR_KEYWORD", False], ["b", "POSITIONAL_OR_KEYWORD", False]],
     [["b", "POSITIONAL_OR_KEYWORD", False], ["a", "POSITIONAL_OR_KEYWORD", False]], False),
    ([["kwargs", "VAR_KEYWORD", False]], [], False),
    ([], None, False),                                                  # not inspectable
    ([["self", "POSITIONAL_OR_KEYWORD", False], ["data", "POSITIONAL_OR_KEYWORD", False]],
     [["self", "POSITIONAL_ONLY", False], ["args", "VAR_POSITIONAL", False],
      ["kwargs", "VAR_KEYWORD", False]], False),                        # object.__init__
])
def test_the_signature_check_tells_compatible_from_not(theirs_sig, ours_sig, ok):
    assert (incompatibilities(theirs_sig, ours_sig) == []) == ok


def test_the_oracle_lists_what_micrograd_defines(theirs):
    # guards the tests below against comparing nothing
    value = theirs["classes"]["Value"]["attributes"]
    assert {"__init__", "__add__", "__pow__", "__rtruediv__", "relu", "backward"} <= set(value)
    assert {"zero_grad", "parameters"} <= set(theirs["classes"]["Module"]["attributes"])
    assert {"__call__", "parameters", "zero_grad"} <= set(theirs["classes"]["MLP"]["attributes"])
    instances = {k: set(v) for k, v in theirs["instances"].items()}
    assert instances["Value leaf"] == instances["Value op node"] == {
        "data", "grad", "_backward", "_prev", "_op"}
    assert instances["Neuron"] == {"w", "b", "nonlin"}
    assert (instances["Layer"], instances["MLP"]) == ({"neurons"}, {"layers"})


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_attribute_of_micrograds_exists_with_a_compatible_signature(name, theirs):
    cls = CLASSES[name]
    problems = []
    for attr, their in theirs["classes"][name]["attributes"].items():
        if not hasattr(cls, attr):
            problems.append(f"{name}.{attr} is missing")
        elif their["callable"]:
            ours = getattr(cls, attr)
            if not callable(ours):
                problems.append(f"{name}.{attr} is not callable ({type(ours).__name__})")
                continue
            problems.append(mismatch(f"{name}.{attr}", their["signature"], signature_of(ours)))
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", CLASSES)
def test_the_constructor_accepts_every_call_micrograds_does(name, theirs):
    # Value(...) is built in __new__ here, so it is the class's signature that counts
    problem = mismatch(name, theirs["classes"][name]["constructor"], signature_of(CLASSES[name]))
    assert not problem, problem


def test_a_subclass_can_call_value_init_with_micrograds_arguments():
    # what Value.__init__'s signature is for: class V(Value) with an __init__ of its own
    class Sub(Value):
        def __init__(self, data, _children=(), _op=""):
            super().__init__(data, _children, _op)
    try:
        v, error = Sub(2.0), None
    except TypeError as e:
        v, error = None, e
    assert error is None, (f"super().__init__(data, _children, _op) in a subclass raises here, "
                           f"not in micrograd 0.1.0: {error} (Value.__init__ is "
                           f"{Value.__init__!r}: Value is built in __new__)")
    assert isinstance(v, Sub) and v.data == 2.0


@pytest.fixture(scope="module")
def ours():
    return make_instances(Value, Neuron, Layer, MLP)


@pytest.mark.parametrize("name", ["Value leaf", "Value op node", "Neuron", "Layer", "MLP"])
def test_every_instance_attribute_exists_with_micrograds_type(name, theirs, ours):
    obj, problems = ours[name], []
    for attr, their in theirs["instances"][name].items():
        if not hasattr(obj, attr):
            problems.append(f"{name}: no attribute {attr!r}")
            continue
        mine = describe(getattr(obj, attr))
        if their["callable"]:           # _backward: a closure there, a bound method here
            if not mine["callable"]:
                problems.append(f"{name}.{attr} is a {mine['type']}, not callable")
            else:
                problems.append(mismatch(f"{name}.{attr}", their["signature"], mine["signature"]))
        elif (mine["type"], mine.get("items")) != (their["type"], their.get("items")):
            problems.append(f"{name}.{attr} is a {mine['type']} of {mine.get('items')}, "
                            f"micrograd's a {their['type']} of {their.get('items')}")
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


def test_backward_is_a_function_of_no_arguments_on_a_leaf_and_an_op_node():
    program = """
        x = Value(2.0)
        y = x * 3
        leaf = x._backward()
        y.grad = 1
        node = y._backward()
        result = [leaf, node, x.grad, y.grad]
    """
    theirs = run_original("from micrograd.engine import Value\n" + inspect.cleandoc(program))
    scope = {"Value": Value}
    exec(inspect.cleandoc(program), scope)
    x = Value(2.0)
    assert callable(x._backward) and callable((x * 3)._backward)
    assert scope["result"] == theirs == [None, None, 3.0, 1]


IMPLEMENTATION = {"ffi", "lib", "operator", "threading", "weakref", "array", "islice"}


@pytest.mark.parametrize("module", ["micrograd.engine", "micrograd.nn"])
def test_star_import_gives_every_name_micrograds_does(module):
    theirs = run_original(f"scope = {{}}\nexec('from {module} import *', scope)\n"
                          "result = sorted(set(scope) - {'__builtins__'})")
    scope = {}
    exec(f"from {module} import *", scope)
    missing = sorted(set(theirs) - set(scope))
    assert not missing, (f"`from {module} import *` gives {missing} under micrograd 0.1.0 "
                         f"but not here (ours gives {sorted(set(scope) - {'__builtins__'})})")


@pytest.mark.parametrize("module", [micrograd.engine, micrograd.nn], ids=lambda m: m.__name__)
def test_star_import_is_all_and_all_is_no_implementation_detail(module):
    scope = {}
    exec(f"from {module.__name__} import *", scope)
    assert set(scope) - {"__builtins__"} == set(module.__all__)
    assert all(scope[name] is getattr(module, name) for name in module.__all__)
    leaked = [name for name in module.__all__
              if name in IMPLEMENTATION or name.startswith(("MG_", "_"))]
    assert not leaked, f"{module.__name__}.__all__ exports implementation details: {leaked}"
    if module is micrograd.engine:
        assert scope["Value"] is Value
