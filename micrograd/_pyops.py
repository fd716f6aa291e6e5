"""Ops defined in Python, micrograd's way: Value(data, children, op) makes a node whose
data is given, and `out._backward = fn` gives a node a rule of Python code, which
backward() calls at the node's turn (docs/ARCHITECTURE.md, "Python code in the graph").

Internal: micrograd.engine is the face.
"""
from micrograd import _handles, _mg
from micrograd._core import _arena, _check, _number, ffi, lib
from micrograd._handles import _address, _forget, _forget_rule, _made, _python, _watch_rule
from micrograd._handles import _python_lock as _lock


def python_op(v, data, children, op):
    """micrograd's Value(data, _children, _op), made into v: a node over the given
    Values whose data is given and whose backward is whatever Python function the
    caller assigns to its _backward (none: nothing, as micrograd's lambda: None)."""
    kids = tuple(children)
    for c in kids:
        if not isinstance(c, _handles.Value):
            raise TypeError(f"the children of a Value must be Values, not {type(c).__name__!r}")
    x, is_int = _number(data)
    old, idx = v._i, ffi.new("int32_t[]", [c._i for c in kids])
    made = _mg.handle_push_py(v, _address(idx), len(kids), x, is_int)
    if old >= 0:                    # a second __init__: what v held for its old node goes
        _forget(v, old)
    _made(made, kids)
    v._op_text = str(op)


def set_rule(v, rule):
    """v._backward = rule: the node's backward becomes Python code (MG_PYTHON)."""
    if not callable(rule):
        raise TypeError(f"_backward must be callable, not {type(rule).__name__!r}")
    _check(lib.mg_set(_arena, v._i, lib.MG_PYSTATE, 0.0, True))
    v._python_rule = rule
    _watch_rule(v)


def del_rule(v):
    """del v._backward: back to the node's C rule."""
    if not hasattr(v, "_python_rule"):
        raise AttributeError("this Value has no _backward of Python code to delete")
    del v._python_rule
    _forget_rule(v._i)              # a leaf's hook is gone


def backward(root):
    """backward() over a graph with Python code: C runs the built-in rules between
    the nodes whose _backward is Python code, and Python calls those, in reverse
    topological order, with no lock held (they read and write grads)."""
    n = lib.mg_order(_arena, root, ffi.NULL, 0)
    if n < 0:
        _check(-n)
    order = ffi.new("int32_t[]", n)
    if lib.mg_order(_arena, root, order, n) != n:   # the graph below root cannot change
        raise RuntimeError("backward(): the graph changed while it was being ordered")
    with _lock:
        rules = {i: v for i, ref in _python.items() if (v := ref()) is not None}
    idx = list(rules)
    pos = ffi.new("int32_t[]", len(idx))
    found = lib.mg_find(_arena, order, n, idx, len(idx), pos)
    if found < 0:
        _check(-found)
    top = n                         # order[top:] is done
    for k in pos[0:found]:          # the Python rules' positions, last first
        _check(lib.mg_backward_nodes(_arena, order + k + 1, top - k - 1))  # C, above k
        rule = getattr(rules[order[k]], "_python_rule", None)
        if rule is None:            # deleted by another thread since: the C rule
            _check(lib.mg_backward_nodes(_arena, order + k, 1))
        else:
            rule()
        top = k
    _check(lib.mg_backward_nodes(_arena, order, top))
