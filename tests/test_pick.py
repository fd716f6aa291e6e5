"""pick (MG_PICK): x[t] with the index t a node, through C and through Value.

The index check against Python's list indexing (whole numbers in -k..k-1, -1 the last;
a whole float counts as its int, since a lane holds floats; 1.5, nan, inf are not
indexes), int flags, the backward (x[t] gets out.grad, t nothing), errors naming the
index at build and at replay, and the graph working after a failed replay.
Not here: the op table's tests (tests/ops.py rows: PyTorch, finite differences, fuzz,
replay), cross_entropy with a Value label (test_losses.py).
"""
import math
import re

import pytest

from micrograd._mg import ffi, lib
from micrograd.engine import Value, pick
from micrograd.viz import to_dot
from test_capi import arena, get, leaf  # noqa: F401  (arena: a fixture, a fresh C arena)

K = 4
INDEXES = [0, 3, -1, -4, 0.0, -0.0, 2.0, -3.0,                     # in range
           4, -5, 4.0, 1e300, -1e300, 2.0 ** 31, -2.0 ** 31,        # out of range
           1.5, -0.5, 1e-300, math.nan, math.inf, -math.inf]        # not whole numbers


def python_pick(values, t):
    """values[t] as a list gives it, with a whole float taken as its int: the value, or
    the exception type."""
    if isinstance(t, float) and not (math.isfinite(t) and t.is_integer()):
        return TypeError                    # [..][1.5], [..][nan]: list indices must be integers
    try:
        return values[int(t)]
    except IndexError:
        return IndexError


# ---------------------------------------------------------------- C

STATUS = {TypeError: lib.MG_ENOTINT, IndexError: lib.MG_EBOUNDS}


@pytest.mark.parametrize("t", INDEXES, ids=repr)
def test_c_picks_as_a_python_list_indexes(arena, t):
    values = [10.5, 11.5, 12.5, 13.5]
    kids = [leaf(arena, t)] + [leaf(arena, x) for x in values]
    i = lib.mg_push_n(arena, lib.MG_PICK, kids, K + 1)
    expected = python_pick(values, t)
    if expected in STATUS:
        assert i == -STATUS[expected]
    else:
        assert i >= 0 and get(arena, i) == expected


def test_c_pick_needs_an_index_and_a_value(arena):
    t = leaf(arena, 0)
    assert lib.mg_push_n(arena, lib.MG_PICK, [t], 1) == -lib.MG_EINDEX
    assert lib.mg_push_n(arena, lib.MG_PICK, ffi.NULL, 0) == -lib.MG_EINDEX


def test_c_pick_keeps_the_int_flag_of_the_picked_value(arena):
    t, n, x = leaf(arena, 0), leaf(arena, 2), leaf(arena, 2.0)
    assert get(arena, lib.mg_push_n(arena, lib.MG_PICK, [t, n, x], 3)) == 2
    assert type(get(arena, lib.mg_push_n(arena, lib.MG_PICK, [t, n, x], 3))) is int
    assert type(get(arena, lib.mg_push_n(arena, lib.MG_PICK, [t, x, n], 3))) is float


def test_c_forward_with_a_bad_index_reports_the_pick_and_keeps_its_data(arena):
    t, x, y = leaf(arena, 1), leaf(arena, 0.5), leaf(arena, -2.0)
    p = lib.mg_push_n(arena, lib.MG_PICK, [t, x, y], 3)
    failed = ffi.new("int32_t *")
    for bad, status in ((2, lib.MG_EBOUNDS), (0.5, lib.MG_ENOTINT)):
        assert lib.mg_set(arena, t, lib.MG_DATA, bad, isinstance(bad, int)) == lib.MG_OK
        assert lib.mg_forward(arena, p, failed) == status and failed[0] == p
        assert get(arena, p) == -2.0
    assert lib.mg_set(arena, t, lib.MG_DATA, -2, 1) == lib.MG_OK
    assert lib.mg_forward(arena, p, failed) == lib.MG_OK and get(arena, p) == 0.5


def test_the_new_statuses_are_pythons_exceptions_with_their_own_messages():
    from micrograd._core import _EXC
    assert _EXC[lib.MG_ENOTINT] is TypeError and _EXC[lib.MG_EBOUNDS] is IndexError
    messages = {ffi.string(lib.mg_strerror(s)).decode() for s in (lib.MG_ENOTINT, lib.MG_EBOUNDS)}
    assert messages == {"index is not an integer", "index out of range"}


# ---------------------------------------------------------------- Value

def test_pick_is_one_node_over_the_index_and_the_values():
    t, xs = Value(2), [Value(0.5), Value(-1.0), 3.25]
    out = pick(xs, t)
    assert out._op == "pick" and out.data == 3.25
    assert {v.data for v in out._prev} == {2, 0.5, -1.0, 3.25} and t in out._prev
    assert "pick" in to_dot(out)


def test_backward_gives_the_picked_value_out_grad_and_the_index_nothing():
    t, xs = Value(-1), [Value(0.5), Value(-1.0), Value(4.0)]
    out = pick(xs, t) * 3
    out.backward()
    assert [x.grad for x in xs] == [0, 0, 3.0] and t.grad == 0
    assert type(xs[0].grad) is int                  # untouched: the int 0 of a fresh grad


def test_an_index_among_the_values_can_pick_itself():
    t, x = Value(0), Value(5.0)
    out = pick([t, x], t)
    out.backward()
    assert out.data == 0 and (t.grad, x.grad) == (1, 0)


@pytest.mark.parametrize("t", INDEXES, ids=repr)
def test_pick_at_build_and_at_replay_is_the_list_s_pick_or_its_exception(t):
    values = [10.5, 11.5, 12.5, 13.5]
    xs = [Value(x) for x in values]
    expected = python_pick(values, t)
    index = Value(0)
    out = pick(xs, index)
    index.data = t
    if expected in STATUS:
        with pytest.raises(expected, match=rf"^pick index {re.escape(repr(t))} "):
            pick(xs, t)
        with pytest.raises(expected, match=rf"^forward\(\): pick index {re.escape(repr(t))} "):
            out.forward()
        assert out.data == 10.5                     # the failed node keeps its data
        index.data = 1
        out.forward()                               # and the graph works on
        assert out.data == 11.5
    else:
        assert pick(xs, t).data == expected
        out.forward()
        assert out.data == expected


def test_errors_say_what_is_wrong_with_the_index():
    xs = [Value(1.0), Value(2.0)]
    with pytest.raises(TypeError, match=r"^pick index 1.5 is not an integer$"):
        pick(xs, Value(1.5))
    with pytest.raises(IndexError, match=r"^pick index 2 is out of range for 2 values$"):
        pick(xs, 2)
    with pytest.raises(ValueError, match="empty"):
        pick([], 0)


def test_backward_after_the_index_is_made_bad_without_a_replay_passes_nothing():
    """A backward cannot fail: an index set to 1.5 (no forward() since) names no value."""
    t, xs = Value(1), [Value(0.5), Value(-1.0)]
    out = pick(xs, t)
    t.data = 1.5
    out.backward()
    assert [x.grad for x in xs] == [0, 0] and out.grad == 1
    t.data = 0
    out.backward()                      # the index read anew: the first value's grad
    assert [x.grad for x in xs] == [1, 0]
