"""Value: micrograd 0.1.0's scalar autograd API over a graph that lives in C.

A Value is a handle (a node index) into one process-wide arena in csrc/; each op
computes its data in C at once, and backward() runs in C. No graph is held in
Python (no closures, no cycles), except where you put Python code in it: ops
defined in Python, micrograd's way (Value(data, children, op) and out._backward).

Where C cannot do what Python does, the decision is written once in the README's
"Differences from micrograd 0.1.0" and tested in tests/test_engine.py: float64
numbers that are Python ints where micrograd's would be; the exceptions Python
would raise (a complex result is ValueError); leaf grads that accumulate over two
backward() calls; forward() replays a graph in C and, if an op fails, names it.
The machinery: micrograd._core (C and errors), _handles (a Value per node),
_pyops (ops defined in Python), _bulk (set_data, get_data, get_grad); batch (Batch).
"""
from __future__ import annotations

__all__ = ["Value", "leaves", "dot", "logsumexp", "pick", "set_data", "get_data", "get_grad",
           "Batch"]

from itertools import islice

from micrograd import _handles, _mg, _pyops
from micrograd._bulk import get_data, get_grad, set_data
from micrograd._core import (_arena, _check, _kids, _nary_error, _node_fields, _number, _op_name,
                             _read, _write, ffi, lib)
from micrograd._handles import (_address, _binary, _leaf, _new_node, _replay_error, _unary,
                                _value_of)
from micrograd._handles import _flush, _python, stats  # noqa: F401  (stats() is ours; for tests)
from micrograd._mg.lib import (MG_ADD, MG_MUL, MG_POW, MG_RELU, MG_TANH, MG_EXP, MG_LOG,
                               MG_SIGMOID, MG_POWV, MG_DOT, MG_LSE, MG_PICK, MG_ARG,
                               MG_LABEL)

# Annotations are for type checkers only (py.typed): never evaluated (the __future__
# import), and typing is not imported at run time (its objects cost every collection
# of the garbage collector a little: measured on the eager build, 0.3% per leaf).
TYPE_CHECKING = False       # (type checkers take any TYPE_CHECKING as true)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, overload

    from micrograd._handles import Number   # int, float, numpy's numbers: anything _number takes

    class Handle:   # micrograd._mg.Handle (csrc/handle.c), as type checkers see it
        @property
        def _i(self) -> int: ...            # the node, read-only
        @property
        def data(self) -> float: ...
        @data.setter
        def data(self, x: Number) -> None: ...
        @property
        def grad(self) -> float: ...
        @grad.setter
        def grad(self, x: Number) -> None: ...
else:
    from micrograd._handles import Handle

# _labels[i]: node i's label. It belongs to the node, not to one Value, so it
# outlives the Value it was set on; the node's MG_HAS_LABEL flag says whether the
# entry is current (a new node in a reused slot starts without it).
_labels: dict[int, str] = {}


class Value(Handle):
    """ stores a single scalar value and its gradient """
    # Handle (csrc/handle.c): the node, `_i`, read-only; made and released in C.
    # __dict__: attributes of the user's own, as on micrograd's Value, and ours only where
    # needed: _keep, the Values this one keeps alive: its operands where Python code lies
    # below (a Python _backward must outlive the Value it was set on); _walked, after a
    # walk of _prev, its children, so that the next walk meets the same objects;
    # _python_rule (see _backward) and _op_text (an op defined in Python).
    __slots__ = ("__dict__", "__weakref__")

    def __init__(self, data: Number, _children: Iterable[Value] = (), _op: str = "",
                 label: str = "") -> None:
        # the node is made here, as micrograd sets its fields here: a subclass's own
        # __init__ calling super().__init__(data * 2) gets a leaf holding data * 2
        if _children:           # an op defined in Python, micrograd's way (see _backward)
            _pyops.python_op(self, data, _children, _op)
        else:
            _leaf(data, into=self)
            if _op:
                self._op_text = str(_op)
        if label:
            self.label = label

    __add__ = _binary(MG_ADD)
    __mul__ = _binary(MG_MUL)

    __pow__ = _binary(MG_POW, MG_POWV, rhs=-1)  # x ** Value: beyond micrograd 0.1.0

    relu = _unary(MG_RELU)
    tanh = _unary(MG_TANH)
    exp = _unary(MG_EXP)
    log = _unary(MG_LOG)
    sigmoid = _unary(MG_SIGMOID)

    def backward(self) -> None:
        status = lib.mg_backward(_arena, self._i)
        if status == lib.MG_EPYTHON:
            _pyops.backward(self._i)
        elif status:
            _check(status)

    @property
    def _backward(self) -> Callable[[], None]:
        """This node's chain rule once, as micrograd's: its current grad is added,
        times the local derivative, to its children's grads (a leaf does nothing).
        backward() runs it for every node in reverse topological order.
        Assign a function of no arguments to replace it with Python code, as
        micrograd's ops do (ops defined in Python: see README)."""
        return getattr(self, "_python_rule", self._chain_rule)

    @_backward.setter
    def _backward(self, rule: Callable[[], None]) -> None:
        _pyops.set_rule(self, rule)

    @_backward.deleter
    def _backward(self) -> None:
        _pyops.del_rule(self)

    def _chain_rule(self) -> None:
        _check(lib.mg_backward_node(_arena, self._i))

    def forward(self) -> None:
        """Recompute, in C, the data of every node this one depends on from the
        current data of the leaves: the same numbers as building the graph anew.
        Branches inside ops (relu) follow the new data; Python code that read
        .data while building the graph does not run again (ops defined in
        Python cannot be replayed: ValueError)."""
        failed = ffi.new("int32_t *")
        status = lib.mg_forward(_arena, self._i, failed)
        if status:
            _replay_error(status, failed[0])

    def __neg__(self) -> Value: # -self
        return self * -1

    def __radd__(self, other: Number) -> Value: # other + self
        try:
            return self + other
        except TypeError:   # not a number: NotImplemented, so Python's message names the op
            return NotImplemented

    def __sub__(self, other: Value | Number) -> Value: # self - other
        try:
            return self + (-other)
        except TypeError:
            return NotImplemented

    def __rsub__(self, other: Number) -> Value: # other - self
        try:
            return other + (-self)
        except TypeError:
            return NotImplemented

    def __rmul__(self, other: Number) -> Value: # other * self
        try:
            return self * other
        except TypeError:
            return NotImplemented

    def __truediv__(self, other: Value | Number) -> Value: # self / other
        try:
            return self * other**-1
        except TypeError:
            return NotImplemented

    def __rtruediv__(self, other: Number) -> Value: # other / self
        try:
            return other * self**-1
        except TypeError:
            return NotImplemented

    def __rpow__(self, other: Number) -> Value: # other ** self
        try:
            return _leaf(other) ** self
        except TypeError:
            return NotImplemented

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    # ---------------------------------------------------------- node fields

    # data and grad: Handle's, in C (csrc/handle.c), as _read and _write read and write
    # them: an int where micrograd's would be an int; other numbers through _write

    @property
    def label(self) -> str:
        """A name for graph drawings, as in the lecture's Value; '' if none."""
        return _labels.get(self._i, "") if lib.mg_is_int(_arena, self._i, MG_LABEL) else ""

    @label.setter
    def label(self, text: str) -> None:
        _labels[self._i] = str(text)
        _check(lib.mg_set(_arena, self._i, MG_LABEL, 0.0, True))

    @property
    def _prev(self) -> set[Value]:
        """The child Values, as a set: for graph drawing and debugging. The same
        objects every time while this Value lives (it keeps them)."""
        kids, mine = _kids(self._i), self.__dict__
        walked = mine.get("_walked", ())
        if [v._i for v in walked] != kids:
            # new handles for nodes made in C along with this one (a constant, the sums
            # of dot()) share what this one keeps, where Python code lies below
            keep = mine.get("_keep", ()) if lib.mg_is_int(_arena, self._i, lib.MG_PYSTATE) \
                else None
            walked = self._walked = tuple(_value_of(c, keep) for c in kids)
        return set(walked)

    @property
    def _op(self) -> str:
        """The op that produced this node, with micrograd's labels ('+', '**2', 'ReLU')."""
        op = _node_fields(self._i)[0]
        text = getattr(self, "_op_text", None)     # an op defined in Python, or set by hand
        if text is not None or op == lib.MG_PY:
            return text or ""
        name = _op_name(op)
        return name + str(_read(self._i, MG_ARG)) if op == MG_POW else name

    @_op.setter
    def _op(self, text: str) -> None:
        self._op_text = str(text)

    # copy, deepcopy, pickle: a new leaf, of the same class
    def __reduce__(self) -> tuple[Any, ...]:
        state = {k: x for k, x in vars(self).items() if k not in _handles._INTERNAL}
        return (_copy_of, (type(self), self.data, self.label), state or None)


def _copy_of(cls: type[Value], data: float, label: str) -> Value:
    """A new leaf of class cls holding data and label (its __init__ is not called, as
    pickle calls none): what copy and pickle make of a Value; then its attributes."""
    v = Handle.__new__(cls)
    Value.__init__(v, data, label=label)
    return v


if TYPE_CHECKING:   # a Value start gives a Value; a number start may give a number
    @overload
    def dot(ws: Iterable[Value | Number], xs: Iterable[Value | Number], start: Value,
            fused: bool = False) -> Value: ...
    @overload
    def dot(ws: Iterable[Value | Number], xs: Iterable[Value | Number], start: Number,
            fused: bool = False) -> Value | Number: ...
def dot(ws: Iterable[Value | Number], xs: Iterable[Value | Number], start: Value | Number,
        fused: bool = False) -> Value | Number:
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
    w = ffi.new("int32_t[]", w)
    x, c = (ffi.new("int32_t[]", x), None) if x else (None, ffi.new("double[]", xs))
    return _new_node(_mg.handle_dot, start, _address(w), _address(x), _address(c), n, 0,
                     keep=keep)


def leaves(numbers: Iterable[Number]) -> list[Value]:
    """[Value(x) for x in numbers], in consecutive nodes of the arena: their data and
    grads sit side by side, as a neuron's weights should (nn.Neuron makes its weights
    so; a fused neuron's replay and backward then run over contiguous arrays)."""
    pairs = [_number(x) for x in numbers]
    if not pairs:
        return []
    data = ffi.new("double[]", [x for x, _ in pairs])
    is_int = ffi.new("uint8_t[]", [i for _, i in pairs])
    return _new_node(_mg.handle_leaves, _address(data), _address(is_int), len(pairs))


def _as_value(x: Value | Number) -> Value:
    return x if isinstance(x, Value) else _leaf(x)


def _dot_fused(ws, xs, start):
    pairs = [(_as_value(w), _as_value(x)) for w, x in zip(ws, xs)]
    if not pairs:
        return start                # the sum of nothing, as sum() gives
    kids = [_as_value(start)] + [v for pair in pairs for v in pair]
    return _push_n(MG_DOT, kids)


def _push_n(op, values):
    """The Value of a new n-ary node op(*values); values are held until it exists."""
    kids = ffi.new("int32_t[]", [v._i for v in values])
    return _new_node(_mg.handle_push_n, op, _address(kids), len(values),
                     keep=lambda: tuple(values),
                     error=lambda status: _nary_error(status, op, list(kids)))


def logsumexp(values: Iterable[Value | Number]) -> Value:
    """log(sum(exp(v) for v in values)) as one node, computed as m + log(sum(exp(v - m)))
    with m the largest v, so that it cannot overflow; its grads are the softmax."""
    values = [_as_value(v) for v in values]
    if not values:
        raise ValueError("logsumexp() of an empty sequence")
    return _push_n(MG_LSE, values)


def pick(values: Iterable[Value | Number], index: Value | Number) -> Value:
    """values[index] as one node whose index is data: a Value (a class label, say) whose
    data a replay (forward()) reads again, or a number. The index must be a whole number
    (3 or 3.0), counted as a list counts (-1 is the last): else TypeError (1.5, nan, inf)
    or IndexError (out of range), at build and at replay. The picked value's grad gets
    out.grad; the index gets none (it has no derivative, as torch's gather)."""
    values = [_as_value(v) for v in values]
    if not values:
        raise ValueError("pick() from an empty sequence")
    return _push_n(MG_PICK, [_as_value(index)] + values)


_handles.Value = Value      # the class of the Values that ops make
_mg.handle_init(Value, _handles._push_failed, _write)
_handles._name_methods(Value)

from micrograd.batch import Batch  # noqa: E402  (it needs Value's module complete)
