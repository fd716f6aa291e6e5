"""Batch: one example's graph run over every row of a batch at once (re-exported by
micrograd.engine).

Build the graph of one example (its loss), name the leaves that hold the example
(inputs, in column order), and a Batch runs that graph over B rows in C: each node
holds one number per row (a lane), every other leaf (the parameters) is shared by
all rows. Each row's data is bit-identical to setting the inputs to that row and
calling root.forward(); backward() adds the mean (or sum) over the rows to the
shared leaves' grads, as root.backward() on each row would add it. The Values' own
data is never written: the eager graph, _prev and drawing stay as they were.

    batch = Batch(loss, inputs=xs + [t])
    for X in batches:               # X: a (B, len(inputs)) float64 array
        opt.zero_grad()
        batch.forward(X)            # the loss of every row
        batch.backward()            # the mean's grads, into the parameters
        opt.step()

Not here: graphs whose rows interact (a batch norm, a loss over the whole batch):
build that graph yourself and replay it with forward(). The kernels: csrc/lanes.h.
"""
from __future__ import annotations

import array
import os

from micrograd import _handles
from micrograd._bulk import _indices
from micrograd._core import (_EXC, _arena, _check, _index_error, _is_nary, _kids, _node_fields,
                             _number, _op_name, _operands_error, _strerror, ffi, lib)

TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    from typing import Any, Iterable, Sequence

    from micrograd.engine import Value


def kernels() -> str:
    """The lane kernels in use: baseline, avx2 or avx512 (MG_KERNELS=baseline forces
    the baseline, for instance to check that every target gives the same bits)."""
    return ffi.string(lib.mg_kernels()).decode()


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # (macOS, Windows)
        return os.cpu_count() or 1


class Batch:
    """root's graph over many rows: `inputs` (leaves of root's graph) take one column
    of X each; every other leaf is shared by every row. threads: rows are split
    across that many threads (default: every core this process may use); the
    results are the same bits for any number."""

    def __init__(self, root: Value, inputs: Iterable[Value], threads: int | None = None):
        if not isinstance(root, _handles.Value):
            raise TypeError(f"root must be a Value, not {type(root).__name__!r}")
        inputs = list(inputs)
        idx = _indices(inputs)
        _handles._flush()           # the dead Values' nodes released: which nodes only their
        # parents hold decides what runs as one dot (csrc/batch_graph.c, fuse_chains)
        self.threads = _cores() if threads is None else _threads(threads)
        out, bad = ffi.new("mg_batch **"), ffi.new("int32_t *")
        status = lib.mg_batch_new(_arena, root._i, idx, len(inputs), out, bad)
        if status == lib.MG_EINDEX and bad[0] >= 0:
            raise ValueError(_input_error(inputs, bad[0]))
        if status == lib.MG_EPYTHON:
            raise ValueError(f"a Batch cannot run {_named(bad[0])}: Python code belongs to it "
                             "(an op defined in Python, or a _backward set on it), and it has "
                             "no C rule to run over rows")
        _check(status)
        self._b = ffi.gc(out[0], lib.mg_batch_free)
        self._root, self._inputs = root, inputs     # (they keep the graph alive)
        self.rows = 0           # rows of the last forward
        self._backward = False  # whether grads were computed since

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        return f"Batch(inputs={len(self._inputs)}, rows={self.rows}, threads={self.threads})"

    def forward(self, X: Any, out: Any = None) -> Any:
        """Every node over the rows of X (B rows of len(inputs) numbers: a C-contiguous
        float64 buffer such as a numpy array, or a sequence of rows); returns root's
        data per row (an array('d'), or out filled). An op that fails on a row raises
        the eager op's exception naming the op and the row; nothing else changes."""
        x, x_int, rows = _rows(X, len(self._inputs))
        result = array.array("d", bytes(8 * rows)) if out is None else out
        buf = _out(result, rows, "out")
        node, row, args = ffi.new("int32_t *"), ffi.new("int64_t *"), ffi.new("mg_number[2]")
        self.rows, self._backward = 0, False
        status = lib.mg_batch_forward_nogil(self._b, x, x_int, rows, self.threads, buf, node,
                                            row, args)
        if status != lib.MG_OK:
            raise _failure(status, node[0], row[0], args)
        self.rows = rows
        return result

    def backward(self, reduction: str = "mean") -> None:
        """root.backward() on every row of the last forward, reduced: every shared
        leaf's grad += the mean (reduction="sum": the sum) over the rows of what that
        row's backward would add to it."""
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
        if not self.rows:
            raise RuntimeError("backward() needs a forward() of this Batch that succeeded")
        _check(lib.mg_batch_backward_nogil(self._b, reduction == "mean", self.threads))
        self._backward = True

    def data(self, values: Iterable[Value], out: Any = None) -> Any:
        """The data of values (nodes of the graph) on every row of the last forward:
        B x len(values) numbers, row-major (an array('d'), or out filled, e.g. a numpy
        (B, n) array)."""
        if not self.rows:
            raise RuntimeError("data() needs a forward() of this Batch that succeeded")
        return self._read(lib.MG_DATA, values, out)

    def grad(self, values: Iterable[Value], out: Any = None) -> Any:
        """The grads of values on every row from the last backward, of the reduced root
        (with the mean, each row's grad divided by B): B x len(values), as data()."""
        if not self._backward:
            raise RuntimeError("grad() needs a backward() of this Batch first")
        return self._read(lib.MG_GRAD, values, out)

    def _read(self, field, values, out):
        values = list(values)
        n = len(values)
        idx = _indices(values)
        result = array.array("d", bytes(8 * self.rows * n)) if out is None else out
        buf, bad = _out(result, self.rows * n, "out"), ffi.new("int32_t *")
        status = lib.mg_batch_read(self._b, field, idx, n, self.rows, buf, bad)
        if status == lib.MG_ERANGE:
            raise RuntimeError("another thread ran a forward() of this Batch meanwhile: give "
                               "each thread its own Batch")
        if status == lib.MG_EINDEX and bad[0] >= 0:
            raise ValueError(f"values[{bad[0]}] ({values[bad[0]]!r}) is not a node of this "
                             "Batch's graph")
        if status == lib.MG_EOP and bad[0] >= 0:
            raise ValueError(f"values[{bad[0]}] ({values[bad[0]]!r}) is inside a sum of "
                             "products that the Batch runs as one dot: it has no rows of its "
                             "own (hold a Value of it before making the Batch to keep them)")
        _check(status)
        return result


def _threads(threads):
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an int, not {type(threads).__name__!r}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    return threads


def _input_error(inputs, k):
    """Why mg_batch_new refused input k."""
    v = inputs[k]
    for j in range(k):
        if inputs[j] is v:
            return f"inputs[{k}] ({v!r}) is inputs[{j}] too: each input is one column"
    if v._op:
        return (f"inputs[{k}] ({v!r}) is not a leaf: inputs are the leaves that hold one "
                f"example, and it is the result of {v._op!r}")
    return f"inputs[{k}] ({v!r}) is not a leaf of root's graph"


def _rows(X, n):
    """X as a C array of rows x n float64 numbers, whether each is a Python int (as
    set_data takes them: NULL if none is), and rows."""
    try:
        m = memoryview(X)
    except TypeError:
        m = None
    if m is not None:
        if m.format not in ("d", "<d", "=d", "@d"):
            raise TypeError(f"X must hold float64 numbers, not a buffer of format {m.format!r}")
        if m.ndim != 2 or m.shape[1] != n:
            raise ValueError(f"X must have shape (rows, {n}) for {n} inputs, not {m.shape}")
        rows = m.shape[0]
        if not m.c_contiguous:          # read it in C order (numpy slices, transposes)
            m = memoryview(m.tobytes())
        x, x_int = ffi.from_buffer("double[]", m), ffi.NULL
    else:
        X = [list(row) for row in X]
        rows = len(X)
        for b, row in enumerate(X):
            if len(row) != n:
                raise ValueError(f"row {b} of X has {len(row)} numbers for {n} inputs")
        numbers = [_number(v, "X") for row in X for v in row]
        x = ffi.new("double[]", [v for v, _ in numbers])
        ints = [is_int for _, is_int in numbers]
        x_int = ffi.new("uint8_t[]", ints) if any(ints) else ffi.NULL
    if rows == 0:
        raise ValueError("X has no rows")
    return x, x_int, rows


def _out(out, n, what):
    """out, a writable float64 buffer of n numbers, as a C array."""
    try:
        m = memoryview(out)
    except TypeError:
        raise TypeError(f"{what} must be a writable float64 buffer, not "
                        f"{type(out).__name__!r}") from None
    if m.format not in ("d", "<d", "=d", "@d") or m.readonly or not m.c_contiguous:
        raise TypeError(f"{what} must be a writable C-contiguous float64 buffer")
    if m.nbytes != 8 * n:
        raise ValueError(f"{what} holds {m.nbytes // 8} numbers, not {n}")
    return ffi.from_buffer("double[]", m, require_writable=True)


def _named(node):
    """Node node as an error message names it: its op and its Value."""
    v = _handles._value_of(node)
    return f"{v._op!r} ({v!r})" if v._op else repr(v)


def _failure(status, node, row, args):
    """The exception of a forward that failed at node on row (-1: on no row), its
    operands there args: the eager op's, with its message and the row."""
    if status == lib.MG_EPYTHON:
        return ValueError(f"a Batch cannot run {_named(node)}: a Python _backward was set on "
                          "it since the Batch was made")
    if node < 0:
        return _EXC.get(status, RuntimeError)(_strerror(status))
    op = _node_fields(node)[0]
    x, y = (int(a.value) if a.is_int else a.value for a in args)
    if _is_nary(op):
        message = _index_error(status, op, x, len(_kids(node)) - 1) \
            if status in (lib.MG_ENOTINT, lib.MG_EBOUNDS) else None
    else:
        message = _operands_error(status, op, x, y)
    message = message or f"{_strerror(status)} in {_op_name(op)!r}"
    where = f"on row {row}" if row >= 0 else "in a node that depends on no input"
    return _EXC.get(status, RuntimeError)(f"Batch.forward(): {message}, {where}")
