"""Bulk data: a training step moves a whole batch in and out of the graph in one C
call each (set_data, get_data, get_grad; re-exported by micrograd.engine)."""
from __future__ import annotations

import array

from micrograd import _handles
from micrograd._core import _arena, _check, _number, ffi, lib

TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    from typing import Iterable, TypeVar, overload

    from micrograd._handles import Number
    from micrograd.engine import Value

    _Out = TypeVar("_Out")     # the out buffer given to get_data and get_grad, returned


def _indices(values):
    """The node indices of a list of Values, as a C array."""
    for v in values:
        if not isinstance(v, _handles.Value):
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


def set_data(values: Iterable[Value], numbers: Iterable[Number]) -> None:
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
    _check(lib.mg_set_many(_arena, lib.MG_DATA, idx, buf, is_int, n))


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


if TYPE_CHECKING:
    @overload
    def get_data(values: Iterable[Value], out: None = None) -> array.array[float]: ...
    @overload
    def get_data(values: Iterable[Value], out: _Out) -> _Out: ...
def get_data(values: Iterable[Value], out: object = None) -> object:
    """[v.data for v in values] as floats, in one C call: a new array('d'), or
    written into out (a writable float64 buffer of len(values) numbers) and returned."""
    return _get(lib.MG_DATA, values, out)


if TYPE_CHECKING:
    @overload
    def get_grad(values: Iterable[Value], out: None = None) -> array.array[float]: ...
    @overload
    def get_grad(values: Iterable[Value], out: _Out) -> _Out: ...
def get_grad(values: Iterable[Value], out: object = None) -> object:
    """[v.grad for v in values], as get_data."""
    return _get(lib.MG_GRAD, values, out)
