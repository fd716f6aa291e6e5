"""Value: micrograd 0.1.0's scalar autograd API over a graph that lives in C.

A Value is a handle (a node index) into one process-wide arena in csrc/mg.c;
each op computes its data in C at once, and backward() runs in C. This module
is not a tensor library and holds no graph in Python (no closures, no cycles),
except where you put Python code in it: ops defined in Python, micrograd's way
(Value(data, children, op) and out._backward), whose Values are kept as
micrograd keeps them and whose rules backward() calls at their turn.

Decisions where C cannot do what Python does, tested in tests/test_engine.py:
- data and grad are float64. Where micrograd 0.1.0 would hold a Python int
  (int data, int arithmetic, the grad of a fresh Value), we return an int
  too, exact up to 2**53; an int result too large for a float raises
  OverflowError, as float() does. A bool is held as the int it stands for
  (Value(True) prints data=1; micrograd prints data=True).
- A negative base to a fractional power, complex in Python, raises ValueError.
- backward() raises only what a _backward of your own raises: where micrograd's
  Python would raise inside a built-in gradient (0.0 ** -0.5), the grad is inf
  or nan, as in PyTorch.
- backward() twice accumulates leaf grads (2x, as PyTorch) and recomputes
  non-leaf grads, instead of micrograd's compounding of intermediate grads.
- copy, deepcopy and pickle give a new leaf with the same data and label.
- forward() replays a graph in C. If an op fails on the way (log of a
  negative number, overflow), the nodes before it in topological order hold
  their new data, it and the nodes after it keep their old data, and the
  error names the op; a later forward() with good leaf data repairs all.
"""
__all__ = ["Value", "leaves", "dot", "logsumexp", "set_data", "get_data", "get_grad"]

import array
import operator
import threading
import time
import weakref
from itertools import islice

from micrograd._mg import ffi, lib
from micrograd._mg.lib import (MG_LEAF, MG_ADD, MG_MUL, MG_POW, MG_RELU, MG_TANH, MG_EXP, MG_LOG,
                               MG_SIGMOID, MG_POWV, MG_DOT, MG_LSE, MG_DATA, MG_GRAD, MG_ARG,
                               MG_LABEL, MG_CONST)

_ABI_VERSION = 5
if lib.mg_abi_version() != _ABI_VERSION:
    raise ImportError(f"micrograd._mg is stale (ABI {lib.mg_abi_version()}, expected "
                      f"{_ABI_VERSION}): reinstall the package to rebuild it")

_EXC = {lib.MG_ENOMEM: MemoryError, lib.MG_EINDEX: IndexError,
        lib.MG_EZERODIV: ZeroDivisionError, lib.MG_ERANGE: OverflowError,
        lib.MG_EDOMAIN: ValueError, lib.MG_ECOMPLEX: ValueError, lib.MG_EPYTHON: ValueError}


def _strerror(status):
    return ffi.string(lib.mg_strerror(status)).decode()


def _op_name(op):
    return ffi.string(lib.mg_op_name(op)).decode()


def _check(status, message=None):
    if status != lib.MG_OK:
        raise _EXC.get(status, RuntimeError)(message or _strerror(status))


def _op_error(status, op, lhs, rhs, arg, arg_is_int):
    """The message of mg_push's error `status`, naming the op and its operands as Python
    would print them: 'exp(1000.0) is too large', 'log of -1.0', '10.0 ** 400 ...'."""
    x = _read(lhs, MG_DATA) if lhs >= 0 else arg
    y = _read(rhs, MG_DATA) if rhs >= 0 else int(arg) if arg_is_int else arg  # MG_POW: arg
    name = _op_name(op)
    if op in (MG_POW, MG_POWV) and x < 0:
        x = f"({x})"                        # (-8.0) ** 0.5, not -(8.0 ** 0.5)
    expr = f"{x} {name} {y}" if op in (MG_ADD, MG_MUL, MG_POW, MG_POWV) else f"{name}({x})"
    if status == lib.MG_ERANGE and op in (MG_ADD, MG_MUL):     # int data, as micrograd's
        return f"int {float(x)!r} {name} {float(y)!r} is too large for a float"
    if status == lib.MG_ERANGE:
        return f"{expr} is too large"
    if status == lib.MG_EDOMAIN:                # log(x), x <= 0: math.log's ValueError
        return f"{name} of {x}"
    if status in (lib.MG_EZERODIV, lib.MG_ECOMPLEX):
        return f"{expr}: {_strerror(status)}"
    return None                                 # not the operands' fault: out of memory


def _number(x, what="Value data"):
    """(float, is_int) for an int, a float, a bool or anything with __float__."""
    if isinstance(x, float):
        return x, False
    if isinstance(x, int):
        return float(x), True
    if hasattr(type(x), "__index__"):   # numpy ints; not 0-d arrays or tensors of floats,
        try:                            # whose __index__ raises TypeError
            return float(operator.index(x)), True
        except TypeError:
            pass
    if hasattr(type(x), "__float__"):
        return float(x), False
    raise TypeError(f"{what} must be a real number, not {type(x).__name__!r}")


# The arena owns every node. It is never freed (the OS reclaims it at exit):
# Values can outlive this module at interpreter exit (in reference cycles, in
# module globals) and their deaths still release nodes, while an ffi.gc
# finalizer would run in arbitrary order with theirs (a use-after-free).
_arena = lib.mg_arena_new(1024)
if _arena == ffi.NULL:
    raise MemoryError("cannot allocate the micrograd arena")
lib.mg_use(_arena)              # the hot calls (lib.mg_use_*) take no arena argument
_push = lib.mg_use_push
# _live[i]: a weak reference to node i's Value, so that _prev hands out the same
# Python object for a node while that object is alive. _dead: the references of
# Values that died; their nodes are released in C a batch at a time (one call, not
# one per node), before any memory is needed and before stats are read.
_live = [None] * 1024
_dead = []
# _labels[i]: node i's label. It belongs to the node, not to one Value, so it
# outlives the Value it was set on; the node's MG_HAS_LABEL flag says whether the
# entry is current (a new node in a reused slot starts without it).
_labels = {}
# Deaths per release. Small enough that the dead references are freed before the
# garbage collector's youngest generation (700 objects by default in CPython 3.11)
# fills up and moves them to older ones, whose collections cost more: 256 takes 6%
# fewer instructions per op than 4096 on the build benchmark (callgrind, 3.11).
_BATCH = 256
_flushing = threading.RLock()   # (a finalizer inside a release may need one too)
_handles = threading.RLock()    # _live's entries: taken by _handle and _flush


def _flush(wait=False, _release=lib.mg_use_release, _lock=_flushing, _dead=_dead,
           _live=_live, _handles=_handles):
    # what it uses is bound here, so that it still works while the interpreter shuts down
    if not _lock.acquire(blocking=wait):
        return                                  # another thread is at it
    try:
        n = len(_dead)
        refs = _dead[:n]
        del _dead[:n]                           # other threads append after n
        batch = [ref.i for ref in refs]
        with _handles:      # no newer Value can have an entry there (see _handle)
            for i in batch:
                _live[i] = None
            if _python:     # the Python rules of the Values that died
                for i in batch:
                    if i in _python and _python[i]() is None:
                        del _python[i]
        _check(_release(batch, n))
    finally:
        _lock.release()


_PYTHON_INDEX = lib.MG_PYTHON_INDEX
_INDEX_MASK = lib.MG_INDEX_MASK


class _Ref(weakref.ref):
    """_live's weak reference to a Value; i is its node. When the Value dies, CPython
    clears the reference (so _handle can no longer hand it out) and calls
    _dead.append(ref) in C: no Python code runs per death. (A Value dies with its
    reference cleared before any __del__ of a subclass runs, when the cyclic GC frees
    it; a __del__ that resurrects a Value leaves it without a node.)"""
    __slots__ = ("i",)


# The hot path of every op, written flat: one C call, one small Python object.

def _node(i, push, args, keep, cls=None):
    """The handle of the node push(*args) returned as i, where that was not
    a plain new node: an error (raised, or retried once if dead nodes may free room),
    or a node with Python code below it, whose handle keeps its operands' handles
    `keep` (a tuple, or a function that makes it: they hold that code)."""
    if i < 0:
        i = _retry(i, push, args)
    python = i & _PYTHON_INDEX
    v = _own(i & _INDEX_MASK, cls)
    if python:
        v._keep = keep() if callable(keep) else keep
    return v


def _binary(op, op_value=None, rhs=MG_CONST):
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
            i = push(op, self._i, rhs, *_number(other))     # numpy numbers
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
            return _node(i, push, (op_value, self._i, other._i, 0.0, False), (self, other))
        return _node(i, push, (op, self._i, rhs, *_number(other)), (self,))
    return method


def _unary(op):
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
        return _node(i, push, (op, self._i, -1, 0.0, False), (self,))
    return method


def _grow_live(i):
    _live.extend([None] * (i + 1))


def _made(push, *args, keep=(), cls=None):
    """The handle of the new node push(_arena, *args) (mg_dot, mg_push_n, mg_push_py; of
    mg_leaves, the first leaf's), after releasing what died; it keeps `keep` if the node
    has Python code below it."""
    if len(_dead) >= _BATCH:
        _flush()
    args = (_arena, *args)
    return _node(push(*args), push, args, keep, cls)


def _retry(i, push, args):
    """push(*args) failed with status -i: raise, or once more if dead nodes may free room."""
    if i == -lib.MG_ENOMEM:
        _flush(wait=True)
        i = push(*args)
    if i < 0:
        _check(-i, _op_error(-i, *args) if push is _push else None)
    return i


def _leaf(x, cls=None):
    if len(_dead) >= _BATCH:
        _flush()
    x, is_int = (x, False) if type(x) is float else _number(x)
    i = _push(MG_LEAF, -1, -1, x, is_int)
    if i >= 0:                  # (a leaf has no Python code below it)
        return _own(i, cls)
    return _node(i, _push, (MG_LEAF, -1, -1, x, is_int), (), cls)


def _write(i, field, x, _set=lib.mg_use_set):
    t = type(x)
    status = _set(i, field, x, t is int) if t is float or t is int else \
        _set(i, field, *_number(x, "Value grad" if field == MG_GRAD else "Value data"))
    if status:
        _check(status)


def _read(i, field, _value=lib.mg_use_value, _is_int=lib.mg_use_is_int):
    # one C call, and a second only for a whole number, which may be a Python int
    x = _value(i, field)
    return int(x) if x.is_integer() and _is_int(i, field) else x


# _python[i]: a weak reference to the Value of node i whose _backward is Python code
# (assigned by the user, as micrograd's ops do); backward() calls it at i's turn.
_python = {}


class Value:
    """ stores a single scalar value and its gradient """
    # __dict__: attributes of the user's own, as on micrograd's Value, and ours only where
    # needed: _keep, the Values this one keeps alive: its operands where Python code lies
    # below (a Python _backward must outlive the Value it was set on), and after a walk
    # of _prev, its children, so that the next walk meets the same objects; _python_rule
    # (see _backward) and _op_text (an op defined in Python).
    __slots__ = ("_i", "__dict__", "__weakref__")

    def __new__(cls, data, _children=(), _op="", label=""):
        if _children:           # an op defined in Python, micrograd's way (see _backward)
            self = _python_op(data, _children, _op, cls)
        else:
            self = _leaf(data, cls)
            if _op:
                self._op_text = str(_op)
        if label:
            self.label = label
        return self

    def __init__(self, data, _children=(), _op="", label=""):
        pass    # __new__ made the node; here for subclasses calling super().__init__(...)

    __add__ = _binary(MG_ADD)
    __mul__ = _binary(MG_MUL)

    __pow__ = _binary(MG_POW, MG_POWV, rhs=-1)  # x ** Value: beyond micrograd 0.1.0

    relu = _unary(MG_RELU)
    tanh = _unary(MG_TANH)
    exp = _unary(MG_EXP)
    log = _unary(MG_LOG)
    sigmoid = _unary(MG_SIGMOID)

    def backward(self):
        status = lib.mg_backward(_arena, self._i)
        if status == lib.MG_EPYTHON:
            _backward_python(self._i)
        elif status:
            _check(status)

    @property
    def _backward(self):
        """This node's chain rule once, as micrograd's: its current grad is added,
        times the local derivative, to its children's grads (a leaf does nothing).
        backward() runs it for every node in reverse topological order.
        Assign a function of no arguments to replace it with Python code, as
        micrograd's ops do (ops defined in Python: see README)."""
        return getattr(self, "_python_rule", self._chain_rule)

    @_backward.setter
    def _backward(self, rule):
        if not callable(rule):
            raise TypeError(f"_backward must be callable, not {type(rule).__name__!r}")
        _check(lib.mg_set(_arena, self._i, lib.MG_PYSTATE, 0.0, True))
        self._python_rule = rule
        i = self._i
        with _handles:
            _python[i] = weakref.ref(self)

    @_backward.deleter
    def _backward(self):
        if not hasattr(self, "_python_rule"):
            raise AttributeError("this Value has no _backward of Python code to delete")
        del self._python_rule
        with _handles:
            _python.pop(self._i, None)

    def _chain_rule(self):
        _check(lib.mg_backward_node(_arena, self._i))

    def forward(self):
        """Recompute, in C, the data of every node this one depends on from the
        current data of the leaves: the same numbers as building the graph anew.
        Branches inside ops (relu) follow the new data; Python code that read
        .data while building the graph does not run again (ops defined in
        Python cannot be replayed: ValueError)."""
        failed = ffi.new("int32_t *")
        status = lib.mg_forward(_arena, self._i, failed)
        if status:
            _replay_error(status, failed[0])

    def __neg__(self): # -self
        return self * -1

    def __radd__(self, other): # other + self
        try:
            return self + other
        except TypeError:   # not a number: NotImplemented, so Python's message names the op
            return NotImplemented

    def __sub__(self, other): # self - other
        try:
            return self + (-other)
        except TypeError:
            return NotImplemented

    def __rsub__(self, other): # other - self
        try:
            return other + (-self)
        except TypeError:
            return NotImplemented

    def __rmul__(self, other): # other * self
        try:
            return self * other
        except TypeError:
            return NotImplemented

    def __truediv__(self, other): # self / other
        try:
            return self * other**-1
        except TypeError:
            return NotImplemented

    def __rtruediv__(self, other): # other / self
        try:
            return other * self**-1
        except TypeError:
            return NotImplemented

    def __rpow__(self, other): # other ** self
        try:
            return _leaf(other) ** self
        except TypeError:
            return NotImplemented

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    # ---------------------------------------------------------- node fields

    @property
    def data(self):
        return _read(self._i, MG_DATA)

    @data.setter
    def data(self, x):
        _write(self._i, MG_DATA, x)

    @property
    def grad(self):
        return _read(self._i, MG_GRAD)

    @grad.setter
    def grad(self, x):
        _write(self._i, MG_GRAD, x)

    @property
    def label(self):
        """A name for graph drawings, as in the lecture's Value; '' if none."""
        return _labels.get(self._i, "") if lib.mg_is_int(_arena, self._i, MG_LABEL) else ""

    @label.setter
    def label(self, text):
        _labels[self._i] = str(text)
        _check(lib.mg_set(_arena, self._i, MG_LABEL, 0.0, True))

    @property
    def _prev(self):
        """The child Values, as a set: for graph drawing and debugging. The same
        objects every time while this Value lives (it keeps them)."""
        kids = _kids(self._i)
        try:
            held = self._keep
        except AttributeError:
            held = ()
        if [v._i for v in held[:len(kids)]] != kids:
            # new handles for nodes made in C along with this one (a constant, the
            # sums of dot()) keep what this one kept, where Python code lies below
            keep = held if lib.mg_is_int(_arena, self._i, lib.MG_PYSTATE) else None
            held = tuple(_handle(c, keep) for c in kids) + held
            self._keep = held
        return set(held[:len(kids)])

    @property
    def _op(self):
        """The op that produced this node, with micrograd's labels ('+', '**2', 'ReLU')."""
        op = _node_fields(self._i)[0]
        text = getattr(self, "_op_text", None)     # an op defined in Python, or set by hand
        if text is not None or op == lib.MG_PY:
            return text or ""
        name = _op_name(op)
        return name + str(_read(self._i, MG_ARG)) if op == MG_POW else name

    @_op.setter
    def _op(self, text):
        self._op_text = str(text)

    def __reduce__(self):
        return (Value, (self.data, (), "", self.label))


def _python_op(data, children, op, cls):
    """micrograd's Value(data, _children, _op): a node over the given Values whose
    data is given and whose backward is whatever Python function the caller
    assigns to its _backward (none: nothing, as micrograd's lambda: None)."""
    kids = tuple(children)
    for v in kids:
        if not isinstance(v, Value):
            raise TypeError(f"the children of a Value must be Values, not {type(v).__name__!r}")
    x, is_int = _number(data)
    v = _made(lib.mg_push_py, [v._i for v in kids], len(kids), x, is_int, keep=kids, cls=cls)
    v._op_text = str(op)
    return v


def _backward_python(root):
    """backward() over a graph with Python code: C runs the built-in rules between
    the nodes whose _backward is Python code, and Python calls those, in reverse
    topological order, with no lock held (they read and write grads)."""
    n = lib.mg_order(_arena, root, ffi.NULL, 0)
    if n < 0:
        _check(-n)
    order = ffi.new("int32_t[]", n)
    if lib.mg_order(_arena, root, order, n) != n:   # the graph below root cannot change
        raise RuntimeError("backward(): the graph changed while it was being ordered")
    with _handles:
        rules = {i: v for i, ref in _python.items() if (v := ref()) is not None}
    idx = list(rules)
    pos = ffi.new("int32_t[]", len(idx))
    found = lib.mg_find(_arena, order, n, idx, len(idx), pos)
    if found < 0:
        _check(-found)
    top = n                         # order[top:] is done
    for k in pos[0:found]:          # the Python rules' positions, last first
        _check(lib.mg_backward_nodes(_arena, order + k + 1, top - k - 1))  # C, above k
        rules[order[k]]._python_rule()
        top = k
    _check(lib.mg_backward_nodes(_arena, order, top))


def _node_fields(i):
    op, lhs, rhs = ffi.new("int *"), ffi.new("int32_t *"), ffi.new("int32_t *")
    _check(lib.mg_node(_arena, i, op, lhs, rhs))
    return op[0], lhs[0], rhs[0]


def _kids(i):
    """Node i's children, in order, duplicates included."""
    out = ffi.new("int32_t[2]")
    n = lib.mg_kids(_arena, i, out, 2)
    if n > 2:
        out = ffi.new("int32_t[]", n)
        n = lib.mg_kids(_arena, i, out, n)
    if n < 0:
        _check(-n)
    return ffi.unpack(out, n)


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
    message = None
    if op not in (MG_DOT, MG_LSE):
        arg = _read(i, MG_ARG)
        message = _op_error(status, op, lhs, rhs, float(arg), type(arg) is int)
    raise _EXC.get(status, RuntimeError)(
        "forward(): " + (message or f"{_strerror(status)} in {_op_name(op)!r}"))


def _handle(i, keep=None):
    """The live Value of node i, or a new one holding its own reference (and keeping
    `keep`, unless None)."""
    while True:
        with _handles:                  # one handle per node, whichever thread asks
            ref = _live[i]
            v = ref() if ref is not None else None
            if v is not None:
                return v
            if ref is None:
                _check(lib.mg_retain(_arena, i))
                v = _own(i)
                if keep is not None:
                    v._keep = keep
                return v
        # the entry of a Value that died: release it first, so that its release
        # (which clears the entry) cannot clear the new Value's; if its death is not
        # queued yet (other weak references' callbacks run first), let them finish
        _flush(wait=True)
        time.sleep(0)


def _own(i, cls=None):
    """A new Value for node i, which holds a reference for it: _binary's last lines."""
    v = object.__new__(cls or Value)
    v._i = i
    r = _Ref(v, _dead.append)
    r.i = i
    if i >= len(_live):
        _grow_live(i)
    _live[i] = r
    return v


def dot(ws, xs, start, fused=False):
    """sum((w*x for w, x in zip(ws, xs)), start) in one C call: the same nodes and
    data, node for node. The fast path (Neuron's sum: the forward of an MLP) takes
    a Value start, a list of Values ws, and xs any iterable (list, tuple, numpy
    array, generator) of Values or of floats; anything else is computed as written.

    fused=True makes one n-ary node instead ('dot', children start, w0, x0, w1,
    ...): the same data bit for bit and the same grads, with numbers turned into
    leaves as the sum would."""
    if fused:
        return _dot_fused(ws, xs, start)
    if type(ws) is not list or type(start) is not Value:
        return sum((w*x for w, x in zip(ws, xs)), start)
    xs = list(islice(xs, len(ws)))      # what zip(ws, xs) takes from xs
    ws = ws[:len(xs)]                   # both held until C has made the nodes
    n = len(xs)
    w = [v._i for v in ws if type(v) is Value]
    x = [v._i for v in xs if type(v) is Value]
    if n == 0 or len(w) < n or (len(x) < n and not all(isinstance(v, float) for v in xs)):
        return sum((w*x for w, x in zip(ws, xs)), start)    # n == 0: start itself
    keep = (lambda: (start, *ws, *xs)) if x else (lambda: (start, *ws))  # if Python code is below
    x, c = (x, ffi.NULL) if x else (ffi.NULL, xs)
    return _made(lib.mg_dot, start._i, w, x, c, n, 0, keep=keep)


def leaves(numbers):
    """[Value(x) for x in numbers], in consecutive nodes of the arena: their data and
    grads sit side by side, as a neuron's weights should (nn.Neuron makes its weights
    so; a fused neuron's replay and backward then run over contiguous arrays)."""
    pairs = [_number(x) for x in numbers]
    if not pairs:
        return []
    data = ffi.new("double[]", [x for x, _ in pairs])
    is_int = ffi.new("uint8_t[]", [i for _, i in pairs])
    first = _made(lib.mg_leaves, data, is_int, len(pairs))
    return [first] + [_own(first._i + j) for j in range(1, len(pairs))]


def _as_value(x):
    return x if isinstance(x, Value) else _leaf(x)


def _dot_fused(ws, xs, start):
    pairs = [(_as_value(w), _as_value(x)) for w, x in zip(ws, xs)]
    if not pairs:
        return start                # the sum of nothing, as sum() gives
    kids = [_as_value(start)] + [v for pair in pairs for v in pair]
    return _push_n(MG_DOT, kids)


def _push_n(op, values):
    """The Value of a new n-ary node op(*values); values are held until it exists."""
    kids = [v._i for v in values]
    return _made(lib.mg_push_n, op, kids, len(kids), keep=lambda: tuple(values))


def logsumexp(values):
    """log(sum(exp(v) for v in values)) as one node, computed as m + log(sum(exp(v - m)))
    with m the largest v, so that it cannot overflow; its grads are the softmax."""
    values = [_as_value(v) for v in values]
    if not values:
        raise ValueError("logsumexp() of an empty sequence")
    return _push_n(MG_LSE, values)


# ---------------------------------------------------------------- bulk data
# A training step moves a whole batch in and out of the graph in one C call each.

def _indices(values):
    """The node indices of a list of Values, as a C array."""
    for v in values:
        if not isinstance(v, Value):
            raise TypeError(f"values must be Values, not {type(v).__name__!r}")
    return ffi.new("int32_t[]", [v._i for v in values])


def _float64(buf, n, writable, what):
    """A cffi view of buf (a float64 buffer of n numbers, any shape), or None if
    buf has no buffer interface."""
    try:
        m = memoryview(buf)
    except TypeError:
        return None
    if m.format not in ("d", "<d", "=d", "@d"):
        raise TypeError(f"{what} must hold float64 numbers, not a buffer of format {m.format!r}")
    if m.nbytes != 8 * n:
        raise ValueError(f"{what} holds {m.nbytes // max(m.itemsize, 1)} numbers for {n} Values")
    if writable and m.readonly:
        raise TypeError(f"{what} is read-only")
    if not m.c_contiguous:
        if writable:
            raise ValueError(f"{what} must be contiguous")
        m = memoryview(m.tobytes())
    return ffi.from_buffer("double[]", m, require_writable=writable)


def set_data(values, numbers):
    """values[k].data = numbers[k] for every k, in one C call. numbers: a sequence
    of numbers, or any float64 buffer (a numpy array of any shape, array('d'),
    memoryview) holding len(values) numbers. On error nothing changes."""
    values = list(values)
    idx, n = _indices(values), len(values)
    buf = _float64(numbers, n, False, "numbers")
    is_int = ffi.NULL
    if buf is None:
        numbers = list(numbers)
        if len(numbers) != n:
            raise ValueError(f"{len(numbers)} numbers for {n} Values")
        if not all(type(x) is float for x in numbers):
            pairs = [_number(x) for x in numbers]
            numbers = [x for x, _ in pairs]
            is_int = ffi.new("uint8_t[]", [i for _, i in pairs])
        buf = ffi.new("double[]", numbers)
    _check(lib.mg_set_many(_arena, MG_DATA, idx, buf, is_int, n))


def _get(field, values, out):
    values = list(values)
    idx, n = _indices(values), len(values)
    if out is None:
        out = array.array("d", bytes(8 * n))
    buf = _float64(out, n, True, "out")
    if buf is None:
        raise TypeError(f"out must be a writable float64 buffer, not {type(out).__name__!r}")
    _check(lib.mg_get_many(_arena, field, idx, buf, n))
    return out


def get_data(values, out=None):
    """[v.data for v in values] as floats, in one C call: a new array('d'), or
    written into out (a writable float64 buffer of len(values) numbers) and returned."""
    return _get(MG_DATA, values, out)


def get_grad(values, out=None):
    """[v.grad for v in values], as get_data."""
    return _get(MG_GRAD, values, out)


def stats():
    """The arena's live nodes, capacity and bytes, the children of n-ary nodes
    (edges) and the kept orders of forward() (plans), for tests and benchmarks."""
    _flush(wait=True)
    s = ffi.new("mg_stats *")
    lib.mg_arena_stats(_arena, s)
    return {"live": s.live, "cap": s.cap, "bytes": s.bytes, "bytes_per_node": s.bytes_per_node,
            "edges": s.edges, "edge_bytes": s.edge_bytes, "plans": s.plans,
            "plan_bytes": s.plan_bytes}
