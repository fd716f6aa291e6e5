"""Handles: a Value is a node of the arena, held by a C object, and here is how it gets one.

Value is a Python subclass of micrograd._mg.Handle (csrc/handle.c), a C type that holds
the node's index (`_i`). C makes each node and its handle in one call, keeps one handle
per node (so that _prev hands out the very objects the user holds), and releases a dead
handle's node itself, a batch at a time: no Python code runs per death. The methods of
every op (_binary, _unary) are written flat here: one C call per op.

Internal: micrograd.engine is the face.
"""
from __future__ import annotations

import os
import threading
import weakref

from micrograd import _mg
from micrograd._core import (_EXC, _arena, _check, _is_nary, _kids, _nary_error, _node_fields,
                             _number, _op_error, _op_name, _read, _strerror, ffi, lib)

Value: Any = None   # engine.py's Value, set there once it exists: the class ops make
TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:   # what the methods made by _binary and _unary are, to type checkers:
    # Callables whose first argument is self, so that assigned in Value's class body they
    # are methods (`__add__ = _binary(MG_ADD)`: `Value + float -> Value`)
    from typing import Any, Callable, SupportsFloat, SupportsIndex, Union

    from micrograd.engine import Value as _Value
    Number = Union[SupportsFloat, SupportsIndex]    # what _number takes: int, float, numpy's
    BinaryMethod = Callable[[_Value, Union[_Value, Number]], _Value]
    UnaryMethod = Callable[[_Value], _Value]

if lib.mg_handle_install(_arena) != lib.MG_OK:
    raise ImportError("cannot install micrograd._mg.Handle (out of memory, or micrograd "
                      "imported a second time in this process)")
Handle = _mg.Handle                 # engine.Value's base: the node it holds
_push, _leaf_into, _value, _handle_at = (_mg.handle_push, _mg.handle_leaf, _mg.handle_value_of,
                                         _mg.handle_at)
_release_dead = _mg.handle_release  # release the deaths queued in C now: a status
_pending = _mg.handle_pending       # how many deaths are queued
_BATCH = lib.MG_HANDLE_BATCH        # deaths per release
# _python[i]: a weak reference to the Value of node i whose _backward is Python code
# (micrograd._pyops); when that Value dies, its callback drops the entry (_forget_rule).
_python = {}
_python_lock = threading.RLock()    # _python's entries: a walk over them sees all or none
if hasattr(os, "register_at_fork"):     # a fork's child has only the forking thread:
    # a lock another thread held at the fork would stay held in the child for ever
    os.register_at_fork(after_in_child=_python_lock._at_fork_reinit)


def _flush():
    """Release the nodes of every Value that died (stats() and tests: now, not later)."""
    _check(_release_dead())


def _binary(op: int, op_value: int | None = None, rhs: int = lib.MG_CONST) -> BinaryMethod:
    """The method `self op other` of micrograd's Value: op_value(self, other) for a
    Value other (default op), else op(self, rhs) with the number as the argument
    (rhs MG_CONST: the number becomes a leaf, in C; -1: it is the exponent)."""
    op_value = op_value or op
    push, value = _push, Handle

    def method(self, other):
        if isinstance(other, value):
            return push(op_value, self, other, 0.0, False)
        if type(other) is float or type(other) is int:   # an int is taken as float() does
            return push(op, self, rhs, other, type(other) is int)
        if hasattr(type(other), "__float__") or hasattr(type(other), "__index__"):
            try:
                x, is_int = _number(other)          # numpy numbers
            except TypeError:   # an array of many: numpy applies the op elementwise
                return NotImplemented
            return push(op, self, rhs, x, is_int)
        return NotImplemented   # v + 'a': Python's "unsupported operand type(s) for +"
    return method


def _unary(op: int) -> UnaryMethod:
    """The method `self.op()` of micrograd's Value (relu, tanh, ...)."""
    push = _push

    def method(self):
        return push(op, self, -1, 0.0, False)
    return method


def _push_failed(status, op, lhs, rhs, arg, arg_is_int):
    """Raise the exception of a failed op (csrc/handle.c calls it, memory retried)."""
    _check(status, _op_error(status, op, lhs, rhs, arg, arg_is_int))


def _name_methods(cls):
    """Give the methods _binary and _unary made their names in cls, so that Python's
    messages say 'Value.__pow__() takes 2 positional arguments', as micrograd's do."""
    for name, method in vars(cls).items():
        if getattr(method, "__qualname__", "").startswith(("_binary.", "_unary.")):
            method.__name__, method.__qualname__ = name, f"{cls.__name__}.{name}"


def _address(array):
    """An array made by ffi.new as csrc/handle.c's builders take it (None: NULL, 0)."""
    return 0 if array is None else int(ffi.cast("uintptr_t", array))


def _made(v, keep=(), error=None):
    """What a builder of csrc/handle.c returned: a Value; a 1-tuple of one whose node has
    Python code below it, which keeps `keep` (a tuple, or a function that makes it: the
    Values holding that code); or minus a status (memory was retried): raised, with the
    message error(status) gives (None: the status's own)."""
    if type(v) is tuple:
        v = v[0]
        v._keep = keep() if callable(keep) else keep
    elif type(v) is int:
        _check(-v, error(-v) if error else None)
    return v


def _new_node(make, *args, keep=(), error=None):
    """The Value of the node make(*args) makes (a builder of csrc/handle.c), keeping
    `keep` if the node has Python code below it; error: as _made's."""
    return _made(make(*args), keep, error)


def _leaf(x, cls=None, into=None):
    """A new leaf holding x: a Value of class cls, or `into` itself (Value.__init__'s
    self), which then lets go of the node it had (a second __init__) and what it held."""
    x, is_int = (x, False) if type(x) is float else _number(x)
    if into is None:
        return _made(_leaf_into(cls or Value, x, is_int))
    old = into._i
    _made(_leaf_into(into, x, is_int))
    if old >= 0:
        _forget(into, old)
    return into


def _value_of(i, keep=None):
    """The live Value of node i, or a new one holding its own reference (and keeping
    `keep`, unless None). A Value that is being freed is never handed out."""
    v = _value(i, keep)
    if type(v) is int:
        _check(-v)
    return v


def _live_value(i):
    """Node i's live Value, or None (none is held)."""
    return _handle_at(i)


def _watch_rule(v):
    """v's _backward is Python code: list it in _python until v dies or it is deleted."""
    i = v._i
    with _python_lock:
        _python[i] = weakref.ref(v, lambda ref, forget=_forget_rule: forget(i, ref))


def _forget_rule(i, ref=None, _python=_python, _set=lib.mg_use_set, _lock=_python_lock):
    """Node i's Value with a Python rule died (ref) or its rule was deleted (None): drop
    its entry, and the node's flag if it is a leaf (its flag is its rule's alone). What
    it uses is bound here: a Value may die while the interpreter shuts down."""
    with _lock:
        if ref is not None and _python.get(i) is not ref:
            return                              # a newer Value's entry
        _python.pop(i, None)
    _set(i, lib.MG_PYSTATE, 0.0, False)


# what a Value keeps in its __dict__ for its node (not the user's attributes)
_INTERNAL = ("_keep", "_walked", "_python_rule", "_op_text")


def _forget(v, i):
    """v no longer stands for node i (it was given another): drop what it kept for it."""
    with _python_lock:
        ref = _python.get(i)
        if ref is not None and ref() is v:
            del _python[i]
    for name in _INTERNAL:
        v.__dict__.pop(name, None)


def _replay_error(status, i):
    """forward() failed at node i: the exception the eager op would raise, naming it."""
    if i < 0:                       # not an op's fault: out of memory for the kept order
        _check(status)
    if status == lib.MG_EPYTHON:
        name = getattr(_live_value(i), "_op_text", "an op")
        raise ValueError(f"forward() cannot replay {name!r}, an op defined in Python (its "
                         "forward is your Python code): build the graph anew")
    op, lhs, rhs = _node_fields(i)
    if _is_nary(op):
        message = _nary_error(status, op, _kids(i))
    else:
        arg = _read(i, lib.MG_ARG)
        message = _op_error(status, op, lhs, rhs, float(arg), type(arg) is int)
    raise _EXC.get(status, RuntimeError)(
        "forward(): " + (message or f"{_strerror(status)} in {_op_name(op)!r}"))


def stats() -> dict[str, int]:
    """The arena's live nodes, capacity and bytes, the children of n-ary nodes
    (edges) and the kept orders of forward() (plans), for tests and benchmarks."""
    _flush()
    s = ffi.new("mg_stats *")
    lib.mg_arena_stats(_arena, s)
    return {"live": s.live, "cap": s.cap, "bytes": s.bytes, "bytes_per_node": s.bytes_per_node,
            "edges": s.edges, "edge_bytes": s.edge_bytes, "plans": s.plans,
            "plan_bytes": s.plan_bytes}
