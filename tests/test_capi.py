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


@pytest.mark.parametrize("field", [-1, lib.MG_PYSTATE + 1, 99])
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


# ---------------------------------------------------------------- n-ary nodes (mg_push_n)

def stats_of(a):
    s = ffi.new("mg_stats *")
    lib.mg_arena_stats(a, s)
    return s


def kids(a, i):
    n = lib.mg_kids(a, i, ffi.NULL, 0)
    assert n >= 0
    out = ffi.new("int32_t[]", max(n, 1))
    assert lib.mg_kids(a, i, out, n) == n
    return list(out)[:n]


def test_push_n_dot_and_lse_compute_their_forward_rule(arena):
    b, w, x = leaf(arena, 1), leaf(arena, 0.5), leaf(arena, -3)
    d = lib.mg_push_n(arena, lib.MG_DOT, [b, w, x, x, x], 5)
    assert d >= 0 and get(arena, d) == 1 + 0.5 * -3 + -3 * -3
    ints = lib.mg_push_n(arena, lib.MG_DOT, [b, x, x], 3)
    assert (get(arena, ints), type(get(arena, ints))) == (1 + 9, int)
    s = lib.mg_push_n(arena, lib.MG_LSE, [w, x, w], 3)
    assert math.isclose(get(arena, s), math.log(2 * math.exp(0.5) + math.exp(-3)), rel_tol=1e-15)
    assert type(get(arena, s)) is float
    assert node(arena, d) == (lib.MG_DOT, -1, -1) and node(arena, s) == (lib.MG_LSE, -1, -1)
    assert stats_of(arena).edges == 5 + 3 + 3


def test_push_n_holds_each_child_once_per_edge(arena):
    x = leaf(arena, 2.0)
    d = lib.mg_push_n(arena, lib.MG_DOT, [x, x, x], 3)
    assert lib.mg_release(arena, [x], 1) == OK and get(arena, x) == 2.0
    assert lib.mg_release(arena, [d], 1) == OK
    assert stats_of(arena).live == 0 and stats_of(arena).edges == 0


@pytest.mark.parametrize("op", [-1, lib.MG_LEAF, lib.MG_ADD, lib.MG_RELU, lib.MG_OP_COUNT, 99])
def test_push_n_of_an_op_that_is_not_n_ary_is_eop(arena, op):
    x = leaf(arena, 1.0)
    assert lib.mg_push_n(arena, op, [x, x], 2) == -lib.MG_EOP
    assert stats_of(arena).live == 1


@pytest.mark.parametrize("op", [lib.MG_DOT, lib.MG_LSE])
@pytest.mark.parametrize("bad", ["dead child", "freed child", "negative count", "no array"])
def test_push_n_with_a_bad_argument_is_eindex_and_adds_nothing(arena, op, bad):
    x = leaf(arena, 1.0)
    freed = leaf(arena, 2.0)
    assert lib.mg_release(arena, [freed], 1) == OK
    args = {"dead child": ([x, 77, x], 3), "freed child": ([x, x, freed], 3),
            "negative count": ([x], -1), "no array": (ffi.NULL, 3)}[bad]
    assert lib.mg_push_n(arena, op, *args) == -EINDEX
    s = stats_of(arena)
    assert (s.live, s.edges) == (1, 0)
    assert lib.mg_release(arena, [x], 1) == OK and stats_of(arena).live == 0


def test_push_n_in_a_full_arena_is_enomem_and_adds_nothing(arena):
    assert lib.mg_arena_limit(arena, 16) == OK
    nodes = [leaf(arena, float(k)) for k in range(16)]
    assert lib.mg_push_n(arena, lib.MG_LSE, nodes, 16) == -ENOMEM
    s = stats_of(arena)
    assert (s.live, s.edges) == (16, 0)
    assert lib.mg_release(arena, [nodes[0]], 1) == OK
    i = lib.mg_push_n(arena, lib.MG_LSE, nodes[1:], 15)
    assert i == nodes[0] and stats_of(arena).edges == 15


def test_push_n_of_an_overflowing_int_dot_is_erange_and_adds_nothing(arena):
    big = leaf(arena, 2 ** 600)         # an int flag: Python's exact int, too large a product
    live = stats_of(arena).live
    assert lib.mg_push_n(arena, lib.MG_DOT, [big, big, big], 3) == -lib.MG_ERANGE
    assert stats_of(arena).live == live


LSE_OF_NOTHING = """
from micrograd._mg import ffi, lib
a = lib.mg_arena_new(16)
print(lib.mg_push_n(a, lib.MG_LSE, ffi.NULL, 0))
"""


def test_lse_of_nothing_is_eindex():
    out = run_python(LSE_OF_NOTHING)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(-EINDEX)]


def run_python(code):
    """code in a new interpreter (a crash there fails a test, not the session)."""
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_dot_with_an_unpaired_child_is_eindex(arena):
    b, w = leaf(arena, 1.0), leaf(arena, 2.0)
    assert lib.mg_push_n(arena, lib.MG_DOT, [b, w], 2) == -EINDEX
    assert stats_of(arena).live == 2


DOT_OF_NOTHING = """
from micrograd._mg import ffi, lib
a = lib.mg_arena_new(16)
print(lib.mg_push_n(a, lib.MG_DOT, ffi.NULL, 0), lib.mg_push_n(a, lib.MG_DOT, [], 0))
"""


def test_dot_without_children_is_eindex_not_a_crash():
    out = run_python(DOT_OF_NOTHING)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(-EINDEX)] * 2


# ---------------------------------------------------------------- mg_dot fused, mg_kids

def test_fused_dot_is_one_node_over_start_and_pairs_with_the_chains_data(arena):
    b = leaf(arena, 0.25)
    ws = [leaf(arena, w) for w in (0.5, -1.25, 3.0)]
    xs = [leaf(arena, x) for x in (2.0, 0.1, -0.7)]
    live = stats_of(arena).live
    chain = lib.mg_dot(arena, b, ws, xs, ffi.NULL, 3, 0)
    fused = lib.mg_dot(arena, b, ws, xs, ffi.NULL, 3, 1)
    assert stats_of(arena).live == live + 6 + 1
    assert get(arena, fused) == get(arena, chain)
    assert kids(arena, fused) == [b, ws[0], xs[0], ws[1], xs[1], ws[2], xs[2]]
    assert lib.mg_backward(arena, fused) == OK
    fused_grads = [get(arena, i, lib.MG_GRAD) for i in ws + xs + [b]]
    assert lib.mg_zero_grad(arena, ws + xs + [b], 7) == OK
    assert lib.mg_backward(arena, chain) == OK
    assert fused_grads == [get(arena, i, lib.MG_GRAD) for i in ws + xs + [b]]


def test_fused_dot_with_constants_makes_leaves_held_only_by_the_node(arena):
    b, w = leaf(arena, 1.5), leaf(arena, 2.0)
    i = lib.mg_dot(arena, b, [w, w], ffi.NULL, [0.25, -3.0], 2, 1)
    assert get(arena, i) == 1.5 + 2.0 * 0.25 + 2.0 * -3.0
    k = kids(arena, i)
    assert k[:2] == [b, w] and k[3] == w and [get(arena, c) for c in (k[2], k[4])] == [0.25, -3.0]
    assert stats_of(arena).live == 5
    assert lib.mg_release(arena, [i], 1) == OK and stats_of(arena).live == 2


def test_fused_dot_of_nothing_is_start(arena):
    b = leaf(arena, 2.0)
    assert lib.mg_dot(arena, b, ffi.NULL, ffi.NULL, ffi.NULL, 0, 1) == b
    assert lib.mg_release(arena, [b], 1) == OK and get(arena, b) == 2.0


@pytest.mark.parametrize("bad", ["start", "weight", "input", "length", "arrays"])
def test_fused_dot_with_a_bad_argument_changes_nothing(arena, bad):
    b, w, x = leaf(arena, 0.0), leaf(arena, 1.0), leaf(arena, 2.0)
    args = {"start": (99, [w], [x], ffi.NULL, 1), "weight": (b, [99], [x], ffi.NULL, 1),
            "input": (b, [w], [99], ffi.NULL, 1), "length": (b, [w], [x], ffi.NULL, -1),
            "arrays": (b, [w], ffi.NULL, ffi.NULL, 1)}[bad]
    assert lib.mg_dot(arena, *args, 1) == -EINDEX
    s = stats_of(arena)
    assert (s.live, s.edges) == (3, 0)
    assert lib.mg_release(arena, [b, w, x], 3) == OK and stats_of(arena).live == 0


def test_fused_dot_that_runs_out_of_room_frees_its_constants(arena):
    assert lib.mg_arena_limit(arena, 16) == OK
    b = leaf(arena, 0.0)
    ws = [leaf(arena, 1.0) for _ in range(5)]
    live = stats_of(arena).live                      # 10 free: 5 constants fit, the node not
    assert lib.mg_dot(arena, b, ws * 2, ffi.NULL, [1.0] * 10, 10, 1) == -ENOMEM
    s = stats_of(arena)
    assert (s.live, s.edges) == (live, 0)
    assert lib.mg_release(arena, [b] + ws, 6) == OK and stats_of(arena).live == 0


def test_kids_of_each_arity(arena):
    x, y = leaf(arena, 2.0), leaf(arena, 3.0)
    add = lib.mg_push(arena, lib.MG_ADD, x, y, 0.0, 0)
    relu = lib.mg_push(arena, lib.MG_RELU, add, -1, 0.0, 0)
    powc = lib.mg_push(arena, lib.MG_POW, x, -1, 2.0, 0)
    lse = lib.mg_push_n(arena, lib.MG_LSE, [x, x, y], 3)
    assert [kids(arena, i) for i in (x, add, relu, powc, lse)] == \
        [[], [x, y], [add], [x], [x, x, y]]


def test_kids_writes_at_most_cap_and_returns_the_count(arena):
    x, y = leaf(arena, 2.0), leaf(arena, 3.0)
    i = lib.mg_push_n(arena, lib.MG_LSE, [x, y, x, y], 4)
    out = ffi.new("int32_t[3]", [-9, -9, -9])
    assert lib.mg_kids(arena, i, out, 2) == 4 and list(out) == [x, y, -9]
    assert lib.mg_kids(arena, i, ffi.NULL, 0) == 4
    assert lib.mg_kids(arena, i, ffi.NULL, -1) == 4


@pytest.mark.parametrize("which", BAD)
def test_kids_of_a_bad_index_or_without_an_array_is_eindex(arena, which):
    i = bad_index(arena, which)
    out = ffi.new("int32_t[2]")
    assert lib.mg_kids(arena, i, out, 2) == -EINDEX
    x = leaf(arena, 1.0)
    add = lib.mg_push(arena, lib.MG_ADD, x, x, 0.0, 0)
    assert lib.mg_kids(arena, add, ffi.NULL, 2) == -EINDEX


# ---------------------------------------------------------------- mg_forward

def forward(a, root):
    failed = ffi.new("int32_t *", 12345)
    status = lib.mg_forward(a, root, failed)
    return status, failed[0]


def test_forward_recomputes_from_new_leaf_data_with_int_flags(arena):
    x, y = leaf(arena, 3), leaf(arena, 2)
    p = lib.mg_push(arena, lib.MG_MUL, x, y, 0.0, 0)
    d = lib.mg_push_n(arena, lib.MG_DOT, [p, x, y, y, x], 5)
    s = lib.mg_push(arena, lib.MG_POW, d, -1, 2, 1)
    assert get(arena, s) == (6 + 6 + 6) ** 2
    assert lib.mg_set(arena, x, lib.MG_DATA, 0.5, 0) == OK
    assert forward(arena, s) == (OK, -1)
    assert (get(arena, p), get(arena, d), get(arena, s)) == (1.0, 1.0 + 1.0 + 1.0, 9.0)
    assert type(get(arena, s)) is float
    assert lib.mg_set(arena, x, lib.MG_DATA, -1, 1) == OK
    assert forward(arena, s) == (OK, -1)
    assert (get(arena, s), type(get(arena, s))) == ((-2 + -2 + -2) ** 2, int)


def test_forward_keeps_one_plan_per_root_until_the_root_is_freed(arena):
    x = leaf(arena, 1.0)
    r1 = lib.mg_push(arena, lib.MG_TANH, x, -1, 0.0, 0)
    r2 = lib.mg_push(arena, lib.MG_EXP, r1, -1, 0.0, 0)
    assert stats_of(arena).plans == 0
    for _ in range(3):
        assert forward(arena, r2)[0] == OK
    assert forward(arena, r1)[0] == OK and forward(arena, x)[0] == OK
    s = stats_of(arena)
    assert s.plans == 3 and s.plan_bytes > 0
    assert lib.mg_release(arena, [r1], 1) == OK          # r2 still holds r1
    assert stats_of(arena).plans == 3
    assert lib.mg_release(arena, [r2], 1) == OK          # frees r2, then r1
    assert stats_of(arena).plans == 1
    assert lib.mg_release(arena, [x], 1) == OK
    s = stats_of(arena)
    assert (s.plans, s.plan_bytes, s.live) == (0, 0, 0)


def test_forward_of_a_root_in_a_reused_slot_uses_the_new_graph(arena):
    x, y = leaf(arena, 1.0), leaf(arena, 2.0)
    a = lib.mg_push(arena, lib.MG_ADD, x, y, 0.0, 0)
    d = lib.mg_push(arena, lib.MG_EXP, x, -1, 0.0, 0)
    assert forward(arena, a)[0] == OK                    # a's plan: x, y, a
    assert lib.mg_release(arena, [a, d], 2) == OK        # free list: d, then a
    c = lib.mg_push(arena, lib.MG_TANH, x, -1, 0.0, 0)
    b = lib.mg_push(arena, lib.MG_MUL, c, y, 0.0, 0)
    assert (c, b) == (d, a)
    assert lib.mg_set(arena, x, lib.MG_DATA, 0.5, 0) == OK
    assert forward(arena, b)[0] == OK
    assert get(arena, b) == math.tanh(0.5) * 2.0
    assert lib.mg_backward(arena, b) == OK
    assert get(arena, x, lib.MG_GRAD) == (1 - math.tanh(0.5) ** 2) * 2.0


def test_forward_that_fails_reports_the_node_and_keeps_the_rest(arena):
    x = leaf(arena, 2.0)
    y = lib.mg_push(arena, lib.MG_MUL, x, lib.MG_CONST, 3.0, 0)
    lg = lib.mg_push(arena, lib.MG_LOG, y, -1, 0.0, 0)
    out = lib.mg_push(arena, lib.MG_ADD, lg, x, 0.0, 0)
    old = get(arena, out)
    assert lib.mg_set(arena, x, lib.MG_DATA, -1.0, 0) == OK
    assert forward(arena, out) == (lib.MG_EDOMAIN, lg)
    assert get(arena, y) == -3.0 and get(arena, lg) == math.log(6.0) and get(arena, out) == old
    assert lib.mg_set(arena, x, lib.MG_DATA, 0.5, 0) == OK
    assert forward(arena, out) == (OK, -1)
    assert get(arena, out) == math.log(1.5) + 0.5


@pytest.mark.parametrize("op, data, arg, status", [
    (lib.MG_POW, 0.0, -1.0, lib.MG_EZERODIV), (lib.MG_POW, -8.0, 0.5, lib.MG_ECOMPLEX),
    (lib.MG_EXP, 1000.0, 0.0, lib.MG_ERANGE), (lib.MG_LOG, 0.0, 0.0, lib.MG_EDOMAIN)])
def test_forward_fails_with_the_status_the_push_would_return(arena, op, data, arg, status):
    x = leaf(arena, 1.0)
    i = lib.mg_push(arena, op, x, -1, arg, 0)
    assert lib.mg_set(arena, x, lib.MG_DATA, data, 0) == OK
    assert lib.mg_push(arena, op, x, -1, arg, 0) == -status
    assert forward(arena, i) == (status, i)


@pytest.mark.parametrize("which", BAD)
def test_forward_of_a_bad_root_is_eindex(arena, which):
    i = bad_index(arena, which)
    assert forward(arena, i) == (EINDEX, -1)
    assert stats_of(arena).plans == 0


# ---------------------------------------------------------------- mg_get_many, mg_set_many

def test_set_many_and_get_many_move_data_and_grads(arena):
    nodes = [leaf(arena, 0.0) for _ in range(4)]
    assert lib.mg_set_many(arena, lib.MG_DATA, nodes, [1.5, 2.0, -3.0, 4.0], [0, 1, 1, 0], 4) == OK
    assert [get(arena, i) for i in nodes] == [1.5, 2, -3, 4.0]
    assert [type(get(arena, i)) for i in nodes] == [float, int, int, float]
    assert lib.mg_set_many(arena, lib.MG_GRAD, nodes[1:3], [0.5, 7.0], ffi.NULL, 2) == OK
    assert [get(arena, i, lib.MG_GRAD) for i in nodes] == [0, 0.5, 7.0, 0]
    assert type(get(arena, nodes[2], lib.MG_GRAD)) is float
    out = ffi.new("double[4]")
    assert lib.mg_get_many(arena, lib.MG_DATA, nodes[::-1], out, 4) == OK
    assert list(out) == [4.0, -3.0, 2.0, 1.5]
    assert lib.mg_get_many(arena, lib.MG_GRAD, nodes, out, 4) == OK
    assert list(out) == [0.0, 0.5, 7.0, 0.0]


def test_many_of_nothing_is_ok_without_arrays(arena):
    assert lib.mg_get_many(arena, lib.MG_DATA, ffi.NULL, ffi.NULL, 0) == OK
    assert lib.mg_set_many(arena, lib.MG_GRAD, ffi.NULL, ffi.NULL, ffi.NULL, 0) == OK


@pytest.mark.parametrize("bad", ["dead index", "freed index", "negative index", "bad field",
                                 "arg field", "label field", "negative count", "no indices",
                                 "no buffer"])
def test_many_with_a_bad_argument_is_eindex_and_touches_nothing(arena, bad):
    nodes = [leaf(arena, float(k)) for k in range(3)]
    freed = leaf(arena, 9.0)
    assert lib.mg_release(arena, [freed], 1) == OK
    idx, field, n, buf = list(nodes), lib.MG_DATA, 3, True
    if bad == "dead index":
        idx[2] = 500
    elif bad == "freed index":
        idx[1] = freed
    elif bad == "negative index":
        idx[0] = -1
    elif bad == "bad field":
        field = 7
    elif bad == "arg field":
        field = lib.MG_ARG
    elif bad == "label field":
        field = lib.MG_LABEL
    elif bad == "negative count":
        n = -1
    elif bad == "no indices":
        idx = ffi.NULL
    elif bad == "no buffer":
        buf = False
    values = [7.0, 8.0, 9.0] if buf else ffi.NULL
    out = ffi.new("double[3]", [-1.0] * 3) if buf else ffi.NULL
    assert lib.mg_set_many(arena, field, idx, values, ffi.NULL, n) == EINDEX
    assert [get(arena, i) for i in nodes] == [0.0, 1.0, 2.0]
    assert lib.mg_get_many(arena, field, idx, out, n) == EINDEX
    if buf:
        assert list(out) == [-1.0] * 3


def test_stats_count_edges_until_their_nodes_are_freed(arena):
    xs = [leaf(arena, 1.0) for _ in range(4)]
    d = lib.mg_push_n(arena, lib.MG_DOT, xs[:3] + xs[2:4], 5)
    s = lib.mg_push_n(arena, lib.MG_LSE, xs, 4)
    st = stats_of(arena)
    assert st.edges == 9 and st.edge_bytes >= 9 * 4
    assert lib.mg_release(arena, [d], 1) == OK and stats_of(arena).edges == 4
    assert lib.mg_release(arena, [s], 1) == OK and stats_of(arena).edges == 0


def test_edges_are_compacted_under_churn_and_survivors_keep_their_children(arena):
    xs = [leaf(arena, float(k)) for k in range(8)]
    keep = [lib.mg_push_n(arena, lib.MG_LSE, xs[k:] + xs[:k], 8) for k in range(8)]
    want = [kids(arena, i) for i in keep]
    data = [get(arena, i) for i in keep]
    for _ in range(2000):
        tmp = [lib.mg_push_n(arena, lib.MG_DOT, xs[:7], 7) for _ in range(5)]
        assert lib.mg_release(arena, tmp, 5) == OK
    st = stats_of(arena)
    assert st.edges == 64 and st.edge_bytes <= 16 * 1024
    assert [kids(arena, i) for i in keep] == want
    assert lib.mg_set(arena, xs[0], lib.MG_DATA, 5.0, 0) == OK
    for i, old in zip(keep, data):
        assert forward(arena, i)[0] == OK and get(arena, i) > old


# ---------------------------------------------------------------- a freed slot reused inside a call

def test_push_with_a_const_and_a_freed_lhs_is_eindex(arena):
    x = leaf(arena, 1.0)
    w = leaf(arena, 2.0)
    assert lib.mg_release(arena, [w], 1) == OK
    assert lib.mg_push(arena, lib.MG_MUL, w, lib.MG_CONST, 5.0, 0) == -EINDEX
    assert stats(arena)[0] == 1 and get(arena, x) == 1.0


@pytest.mark.parametrize("fused", [0, 1])
def test_dot_with_constants_and_a_freed_weight_is_eindex(arena, fused):
    b = leaf(arena, 1.0)
    w = leaf(arena, 2.0)
    assert lib.mg_release(arena, [w], 1) == OK
    assert lib.mg_dot(arena, b, [w], ffi.NULL, [5.0], 1, fused) == -EINDEX
    assert stats(arena)[0] == 1


@pytest.mark.parametrize("fused", [0, 1])
def test_dot_of_ints_too_large_for_a_float_is_erange_and_adds_nothing(arena, fused):
    b, big = leaf(arena, 0), leaf(arena, 2 ** 600)
    assert lib.mg_dot(arena, b, [big], [big], ffi.NULL, 1, fused) == -lib.MG_ERANGE
    assert stats(arena)[0] == 2 and stats_of(arena).edges == 0


def test_forward_of_a_dot_that_overflows_as_ints_is_erange_at_the_dot(arena):
    b, x = leaf(arena, 0), leaf(arena, 3)
    d = lib.mg_dot(arena, b, [x], [x], ffi.NULL, 1, 1)
    out = lib.mg_push(arena, lib.MG_RELU, d, -1, 0.0, 0)
    assert get(arena, out) == 9
    assert lib.mg_set(arena, x, lib.MG_DATA, 2.0 ** 600, 1) == OK
    assert forward(arena, out) == (lib.MG_ERANGE, d)
    assert lib.mg_set(arena, x, lib.MG_DATA, 2.0 ** 600, 0) == OK     # a float: inf, no error
    assert forward(arena, out) == (OK, -1) and get(arena, out) == math.inf
