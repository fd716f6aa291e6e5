"""Handles: a Value is a node index into the arena, and here is how it gets one.

One Value per node at a time (_live), so that _prev hands out the very objects the
user holds; when a Value dies its node is released in C, a batch at a time. The
methods of every op (_binary, _unary) are written flat here: one C call and one
small Python object per op, because a Python call costs more than the C work.

Internal: micrograd.engine is the face.
"""
from __future__ import annotations

import functools
import gc
import os
import threading
import weakref

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

_push = lib.mg_use_push
_PYTHON_INDEX = lib.MG_PYTHON_INDEX
_INDEX_MASK = lib.MG_INDEX_MASK
# _live[i]: a weak reference to node i's Value, so that _prev hands out the same
# Python object for a node while that object is alive. _dead: the references of
# Values that died; their nodes are released in C a batch at a time (one call, not
# one per node), before any memory is needed and before stats are read.
_live = [None] * 1024
_dead = []
# Deaths per release. Small enough that the dead references are freed before the
# garbage collector's youngest generation (700 objects by default in CPython 3.11)
# fills up and moves them to older ones, whose collections cost more (measured:
# benchmarks/RESULTS.md, the build rows).
_BATCH = 256
_flushing = threading.RLock()   # (a finalizer inside a release may need one too)
_registry_lock = threading.RLock()  # _live's entries: taken by _value_of and _flush
if hasattr(os, "register_at_fork"):     # a fork's child has only the forking thread:
    # a lock another thread held at the fork would stay held in the child for ever
    os.register_at_fork(after_in_child=lambda: (_flushing._at_fork_reinit(),
                                                _registry_lock._at_fork_reinit()))
# _python[i]: a weak reference to the Value of node i whose _backward is Python code
# (micrograd._pyops); pruned here when that Value dies.
_python = {}
# _flushes[0]: releases so far; _flushes[1]: as many when the running garbage collection
# began (see _keeping_node)
_flushes = [0, None]
# _taken[id(ref)]: ref, a dead Value's reference whose entry in _live a newer Value took
# before that death was released (_value_of); its release must leave the entry alone.
# (Keyed by the reference, not the node: an entry may be taken again before a release.)
_taken = {}


def _flush(wait=False, _release=lib.mg_use_release, _set=lib.mg_use_set, _lock=_flushing,
           _dead=_dead, _live=_live, _lock_live=_registry_lock, _python=_python, _taken=_taken,
           _flushes=_flushes):
    # what it uses is bound here, so that it still works while the interpreter shuts down
    if not _lock.acquire(blocking=wait):
        return                                  # another thread is at it
    try:
        n = len(_dead)
        refs = _dead[:n]
        del _dead[:n]                           # other threads append after n
        batch = [ref.i for ref in refs]
        _flushes[0] += 1
        with _lock_live:
            if _taken:          # entries newer Values took from these (see _value_of)
                for ref in refs:
                    if _taken.pop(id(ref), None) is None:
                        _live[ref.i] = None
            else:
                for i in batch:
                    _live[i] = None
            if _python:     # the Python rules of the Values that died (a leaf: unflagged)
                for i in batch:
                    if i in _python and _python[i]() is None:
                        del _python[i]
                        _set(i, lib.MG_PYSTATE, 0.0, False)
        _check(_release(batch, n))
    finally:
        _lock.release()


class _Ref(weakref.ref):
    """_live's weak reference to a Value; i is its node. When the Value dies, CPython
    clears the reference (so _value_of can no longer hand it out) and calls
    _dead.append(ref) in C: no Python code runs per death. (When the cyclic GC frees
    a Value, its reference is cleared before any __del__ of a subclass runs, and that
    __del__ may resurrect it: see _keeping_node.)"""
    __slots__ = ("i",)


def _binary(op: int, op_value: int | None = None, rhs: int = lib.MG_CONST) -> BinaryMethod:
    """The method `self op other` of micrograd's Value: op_value(self, other) for a
    Value other (default op), else op(self, rhs) with the number as the argument
    (rhs MG_CONST: the number becomes a leaf, in C; -1: it is the exponent)."""
    op_value = op_value or op
    push, new, ref, died, live, dead, python_bit = (_push, object.__new__, _Ref, _dead.append,
                                                    _live, _dead, _PYTHON_INDEX)

    def method(self, other):
        if len(dead) >= _BATCH:         # release what died, a batch at a time
            _flush()
        if isinstance(other, Value):
            i = push(op_value, self._i, other._i, 0.0, False)
        elif type(other) is float or type(other) is int:   # an int is taken as float() does
            i = push(op, self._i, rhs, other, type(other) is int)
        elif hasattr(type(other), "__float__") or hasattr(type(other), "__index__"):
            try:
                i = push(op, self._i, rhs, *_number(other))     # numpy numbers
            except TypeError:   # an array of many: numpy applies the op elementwise
                return NotImplemented
        else:
            return NotImplemented   # v + 'a': Python's "unsupported operand type(s) for +"
        if 0 <= i < python_bit:         # a new node, with no Python code below it
            v = new(Value)
            v._i = i
            r = ref(v, died)
            r.i = i
            try:
                live[i] = r
            except IndexError:          # the arena grew
                _grow_live(i)
                live[i] = r
            return v
        if isinstance(other, Value):
            return _wrap(i, push, (op_value, self._i, other._i, 0.0, False), (self, other))
        return _wrap(i, push, (op, self._i, rhs, *_number(other)), (self,))
    return method


def _unary(op: int) -> UnaryMethod:
    """The method `self.op()` of micrograd's Value (relu, tanh, ...)."""
    push, new, ref, died, live, dead, python_bit = (_push, object.__new__, _Ref, _dead.append,
                                                    _live, _dead, _PYTHON_INDEX)

    def method(self):
        if len(dead) >= _BATCH:
            _flush()
        i = push(op, self._i, -1, 0.0, False)
        if 0 <= i < python_bit:         # as in _binary
            v = new(Value)
            v._i = i
            r = ref(v, died)
            r.i = i
            try:
                live[i] = r
            except IndexError:
                _grow_live(i)
                live[i] = r
            return v
        return _wrap(i, push, (op, self._i, -1, 0.0, False), (self,))
    return method


def _name_methods(cls):
    """Give the methods _binary and _unary made their names in cls, so that Python's
    messages say 'Value.__pow__() takes 2 positional arguments', as micrograd's do."""
    for name, method in vars(cls).items():
        if getattr(method, "__qualname__", "").startswith(("_binary.", "_unary.")):
            method.__name__, method.__qualname__ = name, f"{cls.__name__}.{name}"


def _grow_live(i):
    _live.extend([None] * (i + 1))


def _wrap(i, push, args, keep, cls=None, into=None):
    """The Value of what push(*args) returned as i, where that was not a plain new
    node: an error (raised, or retried once if dead nodes may free room), or a node
    with Python code below it, whose Value keeps its operands' Values `keep` (a tuple,
    or a function that makes it: they hold that code)."""
    if i < 0:
        i = _retry(i, push, args)
    python = i & _PYTHON_INDEX
    v = _new_handle(i & _INDEX_MASK, cls, into)
    if python:
        v._keep = keep() if callable(keep) else keep
    return v


def _new_node(push, *args, keep=(), cls=None, into=None):
    """The Value of the new node push(_arena, *args) (mg_dot, mg_push_n, mg_push_py; of
    mg_leaves, the first leaf's), after releasing what died; it keeps `keep` if the node
    has Python code below it. into: the Value to give the node to (see _new_handle)."""
    if len(_dead) >= _BATCH:
        _flush()
    args = (_arena, *args)
    return _wrap(push(*args), push, args, keep, cls, into)


def _retry(i, push, args):
    """push(*args) failed with status -i: raise, or once more if dead nodes may free room."""
    if i == -lib.MG_ENOMEM:
        _flush(wait=True)
        i = push(*args)
    if i < 0:
        _check(-i, _op_error(-i, *args) if push is _push
               else _nary_error(-i, args[1], args[2]) if push is lib.mg_push_n else None)
    return i


def _leaf(x, cls=None, into=None):
    if len(_dead) >= _BATCH:
        _flush()
    x, is_int = (x, False) if type(x) is float else _number(x)
    i = _push(lib.MG_LEAF, -1, -1, x, is_int)
    if i >= 0:                  # (a leaf has no Python code below it)
        return _new_handle(i, cls, into)
    return _wrap(i, _push, (lib.MG_LEAF, -1, -1, x, is_int), (), cls, into)


def _value_of(i, keep=None):
    """The live Value of node i, or a new one holding its own reference (and keeping
    `keep`, unless None). A Value that died may still have the entry, its release not
    yet done (or its death not yet queued, while other weak references' callbacks run):
    the new Value takes the entry, and that release will leave it alone (_taken)."""
    with _registry_lock:                # one handle per node, whichever thread asks
        ref = _live[i]
        v = ref() if ref is not None else None
        if v is None:
            _check(lib.mg_retain(_arena, i))
            if ref is not None:
                _taken[id(ref)] = ref
            v = _new_handle(i)
            if keep is not None:
                v._keep = keep
        return v


def _new_handle(i, cls=None, into=None, _died=_dead.append, _refs=weakref.getweakrefcount):
    """A new Value for node i, which holds a reference for it: _binary's last lines.
    into: an object of a Value class to be that Value (Value.__init__'s self); if it
    had a node already (a second __init__), it lets go of that one and what it held.
    (_died is bound once: a bound method made per call would live as long as the
    weak reference, 80 B a Value.)"""
    v = object.__new__(cls or Value) if into is None else into
    old = getattr(into, "_i", None) if into is not None and _refs(into) else None
    v._i = i                                # (a new object has no weak reference yet)
    r = _Ref(v, _died)
    r.i = i
    if i >= len(_live):
        _grow_live(i)
    _live[i] = r
    if old is not None:                     # a second __init__: the old node, last
        _let_go(v, old)
    return v


def _keeping_node(user_del):
    """A subclass's __del__, made safe to resurrect a Value. When the cyclic garbage
    collector frees a Value, CPython clears its weak reference (queueing its node's
    release) before any __del__ runs; so first the Value takes its node back with a
    reference of its own, and then it keeps its node if __del__ resurrects it, or
    releases it when it dies for good. If a release ran since the collection began
    (code of the user's in between), the dead entry may no longer be this Value's: the
    Value is left without a node, and every use of it fails."""
    if _note_collections not in gc.callbacks:
        gc.callbacks.append(_note_collections)     # (only once such a class exists)

    _died = _dead.append

    @functools.wraps(user_del)
    def __del__(self):
        i = getattr(self, "_i", None)
        with _registry_lock:
            ref = _live[i] if i is not None else None
            if ref is not None and ref() is None and _flushes[0] == _flushes[1]:  # pending
                _check(lib.mg_retain(_arena, i))
                _taken[id(ref)] = ref                   # (see _value_of)
                _live[i] = _Ref(self, _died)            # its entry again, as _new_handle's
                _live[i].i = i
                if "_python_rule" in self.__dict__:
                    _python[i] = weakref.ref(self)
            elif i is not None and (ref is None or ref() is not self):    # released
                del self._i
        user_del(self)
    return __del__


def _note_collections(phase, info):
    if phase == "start":
        _flushes[1] = _flushes[0]


# what a Value keeps in its __dict__ for its node (not the user's attributes)
_INTERNAL = ("_keep", "_walked", "_python_rule", "_op_text")


def _let_go(v, i):
    """v no longer stands for node i: drop its registry entry (whose weak reference
    then dies without a callback), what it kept for the node, and its reference."""
    with _registry_lock:
        if _live[i] is not None and _live[i]() is v:
            _live[i] = None
        if _python.get(i) is not None and _python[i]() is v:
            del _python[i]
    for name in _INTERNAL:
        v.__dict__.pop(name, None)
    _check(lib.mg_use_release([i], 1))


def _replay_error(status, i):
    """forward() failed at node i: the exception the eager op would raise, naming it."""
    if i < 0:                       # not an op's fault: out of memory for the kept order
        _check(status)
    if status == lib.MG_EPYTHON:
        ref = _live[i]
        name = getattr(ref() if ref is not None else None, "_op_text", "an op")
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
    _flush(wait=True)
    s = ffi.new("mg_stats *")
    lib.mg_arena_stats(_arena, s)
    return {"live": s.live, "cap": s.cap, "bytes": s.bytes, "bytes_per_node": s.bytes_per_node,
            "edges": s.edges, "edge_bytes": s.edge_bytes, "plans": s.plans,
            "plan_bytes": s.plan_bytes}
