"""The C API through micrograd._mg's lib, on fresh arenas (not the one Value uses).

Statuses, bad and freed indices, a full arena, messages and op names, and the
node size. Expected numbers come from Python's own arithmetic and micrograd's labels.
Not here: the Value layer (test_engine.py).
"""
import math

import pytest

from micrograd._mg import ffi, lib

OK, ENOMEM, EINDEX = lib.MG_OK, lib.MG_ENOMEM, lib.MG_EINDEX


@pytest.fixture
def arena():
    return ffi.gc(lib.mg_arena_new(16), lib.mg_arena_free)


def leaf(a, x):
    i = lib.mg_push(a, lib.MG_LEAF, -1, -1, x, isinstance(x, int))
    assert i >= 0
    return i


def get(a, i, field=lib.MG_DATA):
    n = ffi.new("mg_number *")
    assert lib.mg_get(a, i, field, n) == OK
    return int(n.value) if n.is_int else n.value


def stats(a):
    s = ffi.new("mg_stats *")
    lib.mg_arena_stats(a, s)
    return s.live, s.cap, s.bytes, s.bytes_per_node


def test_abi_version_matches_the_header():
    assert lib.mg_abi_version() == lib.MG_ABI_VERSION


def test_fresh_arena_is_empty_with_at_least_sixteen_slots(arena):
    live, cap, nbytes, per_node = stats(arena)
    assert live == 0 and cap >= 16 and nbytes == cap * per_node


def test_node_costs_at_most_48_bytes(arena):
    assert stats(arena)[3] <= 48


@pytest.mark.parametrize("op, lhs, rhs, arg, want", [
    (lib.MG_ADD, 2.5, -1, 0, 2.5 + -1),
    (lib.MG_MUL, 2.5, -1, 0, 2.5 * -1),
    (lib.MG_POW, 2.5, None, 3, 2.5 ** 3),
    (lib.MG_POW, 4, None, -1, 4 ** -1),
    (lib.MG_RELU, -2, None, 0, 0),
    (lib.MG_TANH, 0.5, None, 0, math.tanh(0.5)),
    (lib.MG_EXP, 0.5, None, 0, math.exp(0.5)),
    (lib.MG_LOG, 0.5, None, 0, math.log(0.5)),
    (lib.MG_POWV, 2, 10, 0, 2 ** 10),
])
def test_push_computes_the_forward_rule_with_pythons_int_or_float(arena, op, lhs, rhs, arg, want):
    l = leaf(arena, lhs)
    r = leaf(arena, rhs) if rhs is not None else -1
    i = lib.mg_push(arena, op, l, r, arg, isinstance(arg, int))
    got = get(arena, i)
    assert type(got) is type(want) and math.isclose(got, want, rel_tol=1e-15)


@pytest.mark.parametrize("op", [-1, lib.MG_OP_COUNT, 255])
def test_push_with_a_bad_op_fails_and_adds_nothing(arena, op):
    leaf(arena, 1.0)
    assert lib.mg_push(arena, op, 0, 0, 0.0, 0) == -lib.MG_EOP
    assert stats(arena)[0] == 1


@pytest.mark.parametrize("child", [-1, 1, 16, 1 << 30, "freed"])
def test_push_with_a_bad_or_freed_child_is_eindex(arena, child):
    x = leaf(arena, 1.0)
    if child == "freed":
        child = leaf(arena, 2.0)
        assert lib.mg_release(arena, [child], 1) == OK
    live = stats(arena)[0]
    assert lib.mg_push(arena, lib.MG_ADD, x, child, 0.0, 0) == -EINDEX
    assert lib.mg_push(arena, lib.MG_RELU, child, -1, 0.0, 0) == -EINDEX
    assert stats(arena)[0] == live and get(arena, x) == 1.0


def test_full_arena_is_enomem_and_leaves_the_graph_unchanged(arena):
    assert lib.mg_arena_limit(arena, 16) == OK
    nodes = [leaf(arena, float(k)) for k in range(16)]
    live, cap, _, _ = stats(arena)
    assert lib.mg_push(arena, lib.MG_ADD, nodes[0], nodes[1], 0.0, 0) == -ENOMEM
    assert lib.mg_push(arena, lib.MG_LEAF, -1, -1, 99.0, 0) == -ENOMEM
    assert stats(arena)[:2] == (live, cap)
    assert [get(arena, i) for i in nodes] == [float(k) for k in range(16)]
    assert lib.mg_release(arena, [nodes[3]], 1) == OK      # a freed slot is reused
    i = lib.mg_push(arena, lib.MG_ADD, nodes[0], nodes[1], 0.0, 0)
    assert i == nodes[3] and get(arena, i) == 1.0


def test_const_operand_is_a_new_leaf_child(arena):
    x = leaf(arena, 3)
    i = lib.mg_push(arena, lib.MG_MUL, x, lib.MG_CONST, 2.5, 0)
    op, l, r = ffi.new("int *"), ffi.new("int32_t *"), ffi.new("int32_t *")
    assert lib.mg_node(arena, i, op, l, r) == OK and l[0] == x
    assert get(arena, i) == 3 * 2.5 and get(arena, r[0]) == 2.5 and stats(arena)[0] == 3
    assert lib.mg_release(arena, [i], 1) == OK and stats(arena)[0] == 1


def test_failed_push_with_a_const_operand_leaves_no_leaf(arena):
    zero = leaf(arena, 0.0)
    assert lib.mg_push(arena, lib.MG_POWV, zero, lib.MG_CONST, -1.0, 0) == -lib.MG_EZERODIV
    assert stats(arena)[0] == 1
    assert lib.mg_arena_limit(arena, 16) == OK
    nodes = [leaf(arena, 1.0) for _ in range(14)]       # one slot left, two needed
    assert lib.mg_push(arena, lib.MG_ADD, nodes[0], lib.MG_CONST, 1.0, 0) == -ENOMEM
    assert stats(arena)[0] == 15


def test_arena_limit_below_one_is_rejected(arena):
    assert lib.mg_arena_limit(arena, 0) == lib.MG_ERANGE


def test_arena_grows_past_its_first_capacity_and_keeps_data(arena):
    nodes = [leaf(arena, k) for k in range(1000)]
    assert stats(arena)[1] >= 1000
    assert [get(arena, i) for i in nodes] == list(range(1000))


BAD = [-1, 5, 1 << 30, "freed"]


def bad_index(a, which):
    leaf(a, 1.0)
    if which != "freed":
        return which
    i = leaf(a, 2.0)
    assert lib.mg_release(a, [i], 1) == OK
    return i


@pytest.mark.parametrize("which", BAD)
def test_access_and_lifetime_calls_on_a_bad_index_are_eindex(arena, which):
    i = bad_index(arena, which)
    n = ffi.new("mg_number *")
    op, l, r = ffi.new("int *"), ffi.new("int32_t *"), ffi.new("int32_t *")
    assert lib.mg_get(arena, i, lib.MG_DATA, n) == EINDEX
    assert lib.mg_set(arena, i, lib.MG_DATA, 1.0, 0) == EINDEX
    assert lib.mg_node(arena, i, op, l, r) == EINDEX
    assert lib.mg_retain(arena, i) == EINDEX
    assert lib.mg_release(arena, [i], 1) == EINDEX
    assert lib.mg_backward(arena, i) == EINDEX
    assert lib.mg_zero_grad(arena, [i], 1) == EINDEX
    assert math.isnan(lib.mg_value(arena, i, lib.MG_DATA)) and not lib.mg_is_int(arena, i, lib.MG_DATA)
    assert stats(arena)[0] == 1 and get(arena, 0) == 1.0


def test_value_and_is_int_read_what_get_reads(arena):
    x, n = leaf(arena, 2.5), leaf(arena, 3)
    assert (lib.mg_value(arena, x, lib.MG_DATA), lib.mg_is_int(arena, x, lib.MG_DATA)) == (2.5, 0)
    assert (lib.mg_value(arena, n, lib.MG_DATA), lib.mg_is_int(arena, n, lib.MG_DATA)) == (3.0, 1)
    assert (lib.mg_value(arena, n, lib.MG_GRAD), lib.mg_is_int(arena, n, lib.MG_GRAD)) == (0.0, 1)


@pytest.mark.parametrize("field", [-1, lib.MG_LABEL + 1, 99])
def test_get_and_set_of_an_unknown_field_fail(arena, field):
    i = leaf(arena, 1.0)
    assert lib.mg_get(arena, i, field, ffi.new("mg_number *")) != OK
    assert lib.mg_set(arena, i, field, 5.0, 0) != OK
    assert get(arena, i) == 1.0


def test_zero_grad_with_one_bad_index_changes_nothing(arena):
    x = leaf(arena, 2.0)
    assert lib.mg_set(arena, x, lib.MG_GRAD, 7.0, 0) == OK
    assert lib.mg_zero_grad(arena, [x, 9], 2) == EINDEX
    assert get(arena, x, lib.MG_GRAD) == 7.0
    assert lib.mg_zero_grad(arena, [x], 1) == OK and get(arena, x, lib.MG_GRAD) == 0


def test_release_skips_bad_indices_but_releases_the_good_ones(arena):
    x, y = leaf(arena, 1.0), leaf(arena, 2.0)
    assert lib.mg_release(arena, [x, 12, y], 3) == EINDEX
    assert stats(arena)[0] == 0


def test_a_parent_keeps_its_children_until_it_is_released(arena):
    x, y = leaf(arena, 3.0), leaf(arena, 4.0)
    z = lib.mg_push(arena, lib.MG_MUL, x, y, 0.0, 0)
    assert lib.mg_release(arena, [x, y], 2) == OK
    assert stats(arena)[0] == 3 and get(arena, x) == 3.0
    op, l, r = ffi.new("int *"), ffi.new("int32_t *"), ffi.new("int32_t *")
    assert lib.mg_node(arena, z, op, l, r) == OK and (op[0], l[0], r[0]) == (lib.MG_MUL, x, y)
    assert lib.mg_release(arena, [z], 1) == OK
    assert stats(arena)[0] == 0


def test_retain_adds_a_reference(arena):
    x = leaf(arena, 3.0)
    assert lib.mg_retain(arena, x) == OK
    assert lib.mg_release(arena, [x], 1) == OK and get(arena, x) == 3.0
    assert lib.mg_release(arena, [x], 1) == OK and stats(arena)[0] == 0


def test_backward_through_the_c_api(arena):
    x, y = leaf(arena, 3.0), leaf(arena, -2.0)
    z = lib.mg_push(arena, lib.MG_MUL, x, y, 0.0, 0)
    out = lib.mg_push(arena, lib.MG_ADD, z, x, 0.0, 0)     # x*y + x
    assert lib.mg_backward(arena, out) == OK
    assert (get(arena, x, lib.MG_GRAD), get(arena, y, lib.MG_GRAD)) == (-2.0 + 1, 3.0)


def test_backward_on_a_bad_root_changes_no_grad(arena):
    x = leaf(arena, 3.0)
    assert lib.mg_set(arena, x, lib.MG_GRAD, 5.0, 0) == OK
    assert lib.mg_backward(arena, -1) == EINDEX
    assert lib.mg_backward(arena, 1 << 20) == EINDEX
    assert get(arena, x, lib.MG_GRAD) == 5.0


def test_every_status_has_its_own_message():
    msgs = [ffi.string(lib.mg_strerror(s)).decode() for s in range(lib.MG_STATUS_COUNT)]
    assert msgs[OK] == "ok" and all(msgs) and len(set(msgs)) == len(msgs)
    for s in (-1, lib.MG_STATUS_COUNT, 1000):
        assert ffi.string(lib.mg_strerror(s)).decode() not in msgs


@pytest.mark.parametrize("status, python", [
    (lib.MG_EZERODIV, lambda: 0.0 ** -1), (lib.MG_ERANGE, lambda: math.exp(1000.0)),
    (lib.MG_EDOMAIN, lambda: math.log(0.0))])
def test_messages_are_pythons_for_the_same_error(status, python):
    with pytest.raises(Exception) as e:
        python()
    assert ffi.string(lib.mg_strerror(status)).decode() == str(e.value)


MICROGRAD_LABELS = {lib.MG_LEAF: "", lib.MG_ADD: "+", lib.MG_MUL: "*", lib.MG_POW: "**",
                    lib.MG_RELU: "ReLU"}


def test_op_names_are_micrograds_labels_and_distinct_where_the_op_is_new():
    names = {op: ffi.string(lib.mg_op_name(op)).decode() for op in range(lib.MG_OP_COUNT)}
    assert {op: names[op] for op in MICROGRAD_LABELS} == MICROGRAD_LABELS
    assert names[lib.MG_TANH] == "tanh" and names[lib.MG_EXP] == "exp"
    assert names[lib.MG_LOG] == "log" and names[lib.MG_SIGMOID] == "sigmoid"
    assert names[lib.MG_POWV] == "**"
    for op in (-1, lib.MG_OP_COUNT, 1000):
        assert ffi.string(lib.mg_op_name(op)).decode() not in names.values()


# ---------------------------------------------------------------- mg_dot

def node(a, i):
    op, l, r = ffi.new("int *"), ffi.new("int32_t *"), ffi.new("int32_t *")
    assert lib.mg_node(a, i, op, l, r) == OK
    return op[0], l[0], r[0]


def test_dot_builds_micrograd_sum_node_for_node(arena):
    b = leaf(arena, 0)
    ws = [leaf(arena, w) for w in (0.5, -1.25, 3.0)]
    xs = [leaf(arena, x) for x in (2.0, 0.1, -0.7)]
    live = stats(arena)[0]
    i = lib.mg_dot(arena, b, ws, xs, ffi.NULL, 3, 0)
    assert stats(arena)[0] == live + 6                     # 3 products, 3 sums
    expected = 0
    for w, x in zip((0.5, -1.25, 3.0), (2.0, 0.1, -0.7)):
        expected = expected + w * x                        # micrograd's order
    assert get(arena, i) == expected
    for k in reversed(range(3)):                           # ADD(sum k-1, MUL(w k, x k))
        op, acc, prod = node(arena, i)
        assert op == lib.MG_ADD and node(arena, prod) == (lib.MG_MUL, ws[k], xs[k])
        i = acc
    assert i == b


def test_dot_with_constants_makes_one_leaf_per_product(arena):
    b = leaf(arena, 1.5)
    ws = [leaf(arena, w) for w in (2.0, 4.0)]
    live = stats(arena)[0]
    i = lib.mg_dot(arena, b, ws, ffi.NULL, [0.25, -3.0], 2, 0)
    assert stats(arena)[0] == live + 6 and get(arena, i) == 1.5 + 2.0 * 0.25 + 4.0 * -3.0
    _, _, prod = node(arena, i)
    op, w, x = node(arena, prod)
    assert (op, w, get(arena, x)) == (lib.MG_MUL, ws[1], -3.0)
    assert lib.mg_release(arena, [i], 1) == OK and stats(arena)[0] == live


def test_dot_of_nothing_is_start_with_a_new_reference(arena):
    b = leaf(arena, 2.0)
    assert lib.mg_dot(arena, b, [], [], ffi.NULL, 0, 0) == b
    assert lib.mg_release(arena, [b], 1) == OK and get(arena, b) == 2.0
    assert lib.mg_release(arena, [b], 1) == OK and stats(arena)[0] == 0


@pytest.mark.parametrize("bad", ["start", "weight", "input", "length"])
def test_dot_with_a_bad_argument_changes_nothing(arena, bad):
    b, w, x = leaf(arena, 0.0), leaf(arena, 1.0), leaf(arena, 2.0)
    args = {"start": (99, [w, w], [x, x], 2), "weight": (b, [w, 99], [x, x], 2),
            "input": (b, [w, w], [x, 99], 2), "length": (b, [w], [x], -1)}[bad]
    start, ws, xs, n = args
    assert lib.mg_dot(arena, start, ws, xs, ffi.NULL, n, 0) == -EINDEX
    assert stats(arena)[0] == 3
    for i in (b, w, x):            # every reference count is as it was: one release frees
        assert lib.mg_release(arena, [i], 1) == OK
    assert stats(arena)[0] == 0


def test_dot_that_runs_out_of_room_halfway_frees_what_it_made(arena):
    assert lib.mg_arena_limit(arena, 16) == OK
    b = leaf(arena, 0.0)
    ws = [leaf(arena, 1.0) for _ in range(5)]
    live = stats(arena)[0]                                 # 6 used, 10 free: 3 of 5 terms fit
    assert lib.mg_dot(arena, b, ws, ffi.NULL, [1.0] * 5, 5, 0) == -ENOMEM
    assert stats(arena)[0] == live
    assert lib.mg_release(arena, [b] + ws, 6) == OK and stats(arena)[0] == 0


def test_dot_without_its_arrays_is_eindex_not_a_crash(arena):
    b, w = leaf(arena, 0.0), leaf(arena, 1.0)
    assert lib.mg_dot(arena, b, ffi.NULL, [w], ffi.NULL, 1, 0) == -EINDEX
    assert lib.mg_dot(arena, b, [w], ffi.NULL, ffi.NULL, 1, 0) == -EINDEX
    assert lib.mg_dot(arena, b, ffi.NULL, ffi.NULL, ffi.NULL, 0, 0) == b    # nothing to read
    assert stats(arena)[0] == 2
