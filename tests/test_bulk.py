"""set_data, get_data, get_grad: many Values in one C call, from and into buffers.

Every kind of input (lists of floats or ints, numpy float64 arrays of any shape and
non-contiguous slices, array('d'), memoryview) gives what a loop of `v.data = x`
gives, ints included; every bad input (lengths, buffer formats, non-Values,
read-only or short `out`) raises ValueError or TypeError and changes nothing.
Not here: the C calls' statuses (test_capi.py), replay (test_replay.py).
"""
import array

import numpy as np
import pytest

from micrograd.engine import Value, get_data, get_grad, set_data


def values(n=4, start=0.5):
    return [Value(start + k) for k in range(n)]


def state(vs):
    return [(type(v.data), repr(v.data), type(v.grad), repr(v.grad)) for v in vs]


# ---------------------------------------------------------------- set_data

NUMBERS = {
    "list of floats": (lambda: [0.25, -1.5, 3.0, -0.0], [0.25, -1.5, 3.0, -0.0]),
    "list of ints": (lambda: [1, -2, 0, 7], [1, -2, 0, 7]),
    "mixed list": (lambda: [1, -2.5, True, np.float64(0.125)], [1, -2.5, 1, 0.125]),
    "tuple": (lambda: (0.25, -1.5, 3.0, 4.0), [0.25, -1.5, 3.0, 4.0]),
    "generator": (lambda: (x / 2 for x in range(4)), [0.0, 0.5, 1.0, 1.5]),
    "numpy 1-d": (lambda: np.array([0.25, -1.5, 3.0, 4.0]), [0.25, -1.5, 3.0, 4.0]),
    "numpy 2-d": (lambda: np.array([[0.25, -1.5], [3.0, 4.0]]), [0.25, -1.5, 3.0, 4.0]),
    "numpy strided": (lambda: np.arange(8.0)[::2], [0.0, 2.0, 4.0, 6.0]),
    "numpy reversed": (lambda: np.arange(4.0)[::-1], [3.0, 2.0, 1.0, 0.0]),
    "numpy 2-d column slice": (lambda: np.arange(8.0).reshape(2, 4)[:, 1:3], [1.0, 2.0, 5.0, 6.0]),
    "numpy transposed": (lambda: np.arange(4.0).reshape(2, 2).T, [0.0, 2.0, 1.0, 3.0]),
    "array('d')": (lambda: array.array("d", [0.25, -1.5, 3.0, 4.0]), [0.25, -1.5, 3.0, 4.0]),
    "memoryview": (lambda: memoryview(array.array("d", [5.0, 6.0, 7.0, 8.0])), [5.0, 6.0, 7.0, 8.0]),
    "memoryview cast": (lambda: memoryview(np.arange(4.0).tobytes()).cast("d"), [0.0, 1.0, 2.0, 3.0]),
}


@pytest.mark.parametrize("kind", NUMBERS)
def test_set_data_is_a_loop_of_data_setters(kind):
    make, want = NUMBERS[kind]
    vs, loop = values(), values()
    set_data(vs, make())
    for v, x in zip(loop, want):
        v.data = x
    assert state(vs) == state(loop)
    assert [(type(v.data), repr(v.data)) for v in vs] == [(type(x), repr(x)) for x in want]


def test_set_data_of_ints_makes_int_data_and_of_floats_float_data():
    vs = values(3)
    set_data(vs, [3, 0, -1])
    assert [type(v.data) for v in vs] == [int] * 3
    set_data(vs, np.array([3.0, 0.0, -1.0]))
    assert [(type(v.data), v.data) for v in vs] == [(float, 3.0), (float, 0.0), (float, -1.0)]


def test_set_data_accepts_any_iterable_of_values():
    vs = values(3)
    set_data(iter(vs), [1.0, 2.0, 3.0])
    set_data(tuple(vs[:2]), [9.0, 8.0])
    assert [v.data for v in vs] == [9.0, 8.0, 3.0]


def test_set_data_then_ops_see_the_new_data():
    x, y = Value(1.0), Value(2.0)
    set_data([x, y], [0.5, 4])
    assert (x * y).data == 2.0 and type((y * 2).data) is int


def test_set_data_with_a_value_twice_keeps_the_last_number():
    x = Value(1.0)
    set_data([x, x], [2.0, 3.0])
    assert x.data == 3.0


def test_set_data_of_nothing_is_nothing():
    set_data([], [])
    set_data([], np.zeros(0))
    assert list(get_data([])) == []


BAD_SET = {
    "list too short": (lambda vs: [1.0, 2.0, 3.0], ValueError),
    "list too long": (lambda vs: [1.0] * 5, ValueError),
    "numpy too short": (lambda vs: np.zeros(3), ValueError),
    "numpy too long 2-d": (lambda vs: np.zeros((2, 3)), ValueError),
    "int64 array": (lambda vs: np.arange(4), TypeError),
    "float32 array": (lambda vs: np.zeros(4, dtype=np.float32), TypeError),
    "big-endian float64": (lambda vs: np.zeros(4, dtype=">f8"), TypeError),
    "object array": (lambda vs: np.array([1.0, "a", 2.0, 3.0], dtype=object), TypeError),
    "bytes of 32": (lambda vs: bytes(32), TypeError),
    "bytearray of 32": (lambda vs: bytearray(32), TypeError),
    "array('f')": (lambda vs: array.array("f", [1.0] * 4), TypeError),
    "array('q')": (lambda vs: array.array("q", [1] * 4), TypeError),
    "a string in the list": (lambda vs: [1.0, 2.0, "3", 4.0], TypeError),
    "None in the list": (lambda vs: [1.0, None, 3.0, 4.0], TypeError),
    "a complex in the list": (lambda vs: [1.0, 2.0, 3.0, 1j], TypeError),
    "not iterable": (lambda vs: 5.0, TypeError),
}


@pytest.mark.parametrize("kind", BAD_SET)
def test_bad_numbers_raise_and_change_nothing(kind):
    make, exc = BAD_SET[kind]
    vs = values()
    vs[1].data = 7                      # an int among floats
    vs[2].grad = 1.5
    before = state(vs)
    with pytest.raises(exc):
        set_data(vs, make(vs))
    assert state(vs) == before


@pytest.mark.parametrize("bad", [1.0, "x", None, np.float64(2.0)], ids=["float", "str", "None",
                                                                        "numpy float"])
@pytest.mark.parametrize("where", [0, 3])
def test_a_non_value_among_the_values_is_type_error_and_changes_nothing(bad, where):
    vs = values()
    mixed = list(vs)
    mixed[where] = bad
    before = state(vs)
    with pytest.raises(TypeError):
        set_data(mixed, [9.0, 9.0, 9.0, 9.0])
    with pytest.raises(TypeError):
        set_data(mixed, np.full(4, 9.0))
    with pytest.raises(TypeError):
        get_data(mixed)
    with pytest.raises(TypeError):
        get_grad(mixed, out=np.zeros(4))
    assert state(vs) == before


# ---------------------------------------------------------------- get_data, get_grad

def test_get_data_and_get_grad_read_what_the_properties_read():
    x, y = Value(1.5), Value(-2)
    out = x * y + x.tanh()
    out.backward()
    vs = [x, y, out]
    data, grad = get_data(vs), get_grad(vs)
    assert isinstance(data, array.array) and data.typecode == "d"
    assert list(data) == [float(v.data) for v in vs]
    assert list(grad) == [float(v.grad) for v in vs]


def test_get_data_gives_floats_even_for_int_data():
    got = get_data([Value(3), Value(-0.0)])
    assert [(type(x), repr(x)) for x in got] == [(float, "3.0"), (float, "-0.0")]


OUTS = {
    "numpy 1-d": lambda n: np.full(n, np.nan),
    "numpy 2-d": lambda n: np.full((2, n // 2), np.nan),
    "array('d')": lambda n: array.array("d", [np.nan] * n),
    "memoryview": lambda n: memoryview(array.array("d", [np.nan] * n)),
    "memoryview of bytearray": lambda n: memoryview(bytearray(8 * n)).cast("d"),
}


@pytest.mark.parametrize("kind", OUTS)
@pytest.mark.parametrize("get, field", [(get_data, "data"), (get_grad, "grad")])
def test_out_is_filled_and_returned(kind, get, field):
    vs = values(4)
    for k, v in enumerate(vs):
        v.grad = -k
    out = OUTS[kind](4)
    assert get(vs, out=out) is out
    assert list(np.asarray(out, dtype=float).ravel()) == [float(getattr(v, field)) for v in vs]


def frozen(n):
    a = np.zeros(n)
    a.flags.writeable = False
    return a


BAD_OUT = {
    "read-only numpy": (frozen, TypeError),
    "bytes": (lambda n: bytes(8 * n), TypeError),
    "read-only memoryview": (lambda n: memoryview(bytes(8 * n)).cast("d"), TypeError),
    "too short": (lambda n: np.zeros(n - 1), ValueError),
    "too long": (lambda n: np.zeros(n + 1), ValueError),
    "array too short": (lambda n: array.array("d", [0.0] * (n - 1)), ValueError),
    "non-contiguous": (lambda n: np.zeros(2 * n)[::2], ValueError),
    "float32": (lambda n: np.zeros(n, dtype=np.float32), TypeError),
    "int64": (lambda n: np.zeros(n, dtype=np.int64), TypeError),
    "bytearray": (lambda n: bytearray(8 * n), TypeError),
    "list": (lambda n: [0.0] * n, TypeError),
}


@pytest.mark.parametrize("kind", BAD_OUT)
@pytest.mark.parametrize("get", [get_data, get_grad])
def test_bad_out_raises_and_writes_nothing(kind, get):
    make, exc = BAD_OUT[kind]
    vs = values(4)
    out = make(4)
    snapshot = bytes(out) if not isinstance(out, list) else list(out)
    before = state(vs)
    with pytest.raises(exc):
        get(vs, out=out)
    assert (bytes(out) if not isinstance(out, list) else list(out)) == snapshot
    assert state(vs) == before


def test_bulk_round_trip_of_a_training_step():
    """get_data + numpy + set_data is an SGD step, as the per-Value loop computes it."""
    rng = np.random.default_rng(0)
    ws = [Value(float(w)) for w in rng.uniform(-1, 1, 5)]
    loop = [Value(w.data) for w in ws]
    for params in (ws, loop):
        out = sum((w * w * k for k, w in enumerate(params)), Value(0.0))
        out.backward()
    data, grad = np.asarray(get_data(ws)), np.asarray(get_grad(ws))
    set_data(ws, data - 0.1 * grad)
    for w in loop:
        w.data -= 0.1 * w.grad
    assert [w.data for w in ws] == [w.data for w in loop]
