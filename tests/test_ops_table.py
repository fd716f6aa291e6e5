"""tests/ops.py against the engine: every op of C has one row, and the row agrees with C.

Every op value below MG_OP_COUNT has a row (so an op added to csrc/ without a row
fails here), C gives it a label, an arity and a kind, and the row says the same;
every row is compared with PyTorch (a form with a torch rule) or says why not; and
each form builds a node of its row's op. Not here: the checks the table drives
(test_engine.py, test_gradcheck.py, test_fuzz_torch.py, test_replay.py).
"""
import pytest

from micrograd._mg import ffi, lib
from micrograd.engine import Value
import ops

ARITY = {0: 0, 1: 1, 2: 2, ops.N: ops.N}


def c_row(op):
    """What C says of op: (label, arity, kind name)."""
    kinds = {getattr(lib, f"MG_KIND_{k}"): k for k in ("LEAF", "INFIX", "CALL", "NARY", "PYTHON")}
    assert len(kinds) == lib.MG_KIND_COUNT
    return (ffi.string(lib.mg_op_name(op)).decode(), lib.mg_op_arity(op),
            kinds.get(lib.mg_op_kind(op)))


def rows_by_value(rows):
    return {getattr(lib, row.enum): row for row in rows}


def missing(rows):
    """The ops of C that have no row in rows."""
    by_value = rows_by_value(rows)
    return [op for op in range(lib.MG_OP_COUNT) if op not in by_value]


def test_every_op_below_op_count_has_one_row_and_no_row_is_extra():
    assert missing(ops.OPS) == []
    assert sorted(rows_by_value(ops.OPS)) == list(range(lib.MG_OP_COUNT))
    assert len(ops.OPS) == lib.MG_OP_COUNT


def test_a_removed_row_is_found_missing():
    for k, row in enumerate(ops.OPS):
        assert missing(ops.OPS[:k] + ops.OPS[k + 1:]) == [getattr(lib, row.enum)]


@pytest.mark.parametrize("row", ops.OPS, ids=lambda row: row.enum)
def test_c_gives_the_op_a_label_arity_and_kind_that_agree_with_its_row(row):
    label, arity, kind = c_row(getattr(lib, row.enum))
    assert arity in ARITY and kind is not None
    assert (label, arity, kind) == (row.label, row.arity, row.kind)


def test_c_calls_an_op_outside_the_enum_unknown():
    for op in (-1, lib.MG_OP_COUNT, 1000):
        assert lib.mg_op_arity(op) == -2 and lib.mg_op_kind(op) == -1


@pytest.mark.parametrize("row", ops.OPS, ids=lambda row: row.enum)
def test_every_op_is_compared_with_pytorch_or_says_why_not(row):
    if row.enum in ("MG_LEAF", "MG_PY"):
        assert row.no_torch and not row.forms
    else:
        assert row.forms and not row.no_torch
        assert all(f.at and f.domain in ("any", "pos") for f in row.forms)


@pytest.mark.parametrize("row", [r for r in ops.OPS if r.kind == "CALL"], ids=lambda r: r.enum)
def test_a_call_op_is_a_value_method_with_a_torch_rule(row):
    assert callable(getattr(Value, row.call)) and callable(row.forms[0].torch)


@pytest.mark.parametrize("form", ops.FORMS, ids=lambda f: f.name)
def test_every_form_builds_a_node_of_its_rows_op(form):
    row = ops.OP_OF[form.name]
    out = form.build(*map(Value, form.at[0]))
    if row.enum == "MG_POW":                    # micrograd's label carries the exponent
        assert out._op.startswith("**") and out._op != "**"
    else:
        assert out._op == row.label
    assert row.arity == ops.N or len(out._prev) <= row.arity
