"""Errors name the right thing, as Python's own do.

A non-number operand gets the very TypeError that Python gives for a float in the
Value's place (NotImplemented from our side), a bad setter names its field, and an
overflow or domain error names the op and its operands.
"""
import math

import pytest

from micrograd.engine import Value

# expressions with a non-number operand; `v` is a Value, `f` the float in its place
BAD_OPERANDS = ["v + 'a'", "'a' + v", "v * [1]", "[1] * v", "v - None", "None - v",
                "v / 'a'", "'a' / v", "v ** 'x'", "'x' ** v", "v + None", "None * v",
                "v - 'a'", "'a' - v", "v * {}", "v / [1]"]


def error_of(expr, **names):
    with pytest.raises(Exception) as info:
        eval(expr, {}, names)
    return info.value


@pytest.mark.parametrize("expr", BAD_OPERANDS)
def test_a_non_number_operand_gets_pythons_own_type_error(expr):
    ours = error_of(expr, v=Value(2.0))
    theirs = error_of(expr.replace("v", "f"), f=2.0)
    assert type(ours) is TypeError
    assert str(ours) == str(theirs).replace("'float'", "'Value'").replace('"float"', '"Value"')


def test_the_issue_s_examples_say_unsupported_operand():
    v = Value(1.0)
    for expr, op, other in [("v + 'a'", "+", "str"), ("v - None", "-", "NoneType")]:
        assert str(error_of(expr, v=v)) == \
            f"unsupported operand type(s) for {op}: 'Value' and '{other}'"


def test_numbers_still_work_on_both_sides():
    v = Value(2.0)
    assert [(v + 1).data, (1 + v).data, (v - 1).data, (1 - v).data, (v * 3).data,
            (3 * v).data, (v / 4).data, (4 / v).data, (2 ** v).data, (v + True).data] == \
        [3.0, 3.0, 1.0, -1.0, 6.0, 6.0, 0.5, 2.0, 4.0, 3.0]


@pytest.mark.parametrize("field", ["data", "grad"])
@pytest.mark.parametrize("bad", [None, "x", [1.0]])
def test_a_setter_names_its_own_field(field, bad):
    v = Value(1.0)
    with pytest.raises(TypeError, match=f"^Value {field} must be a real number, "
                                        f"not '{type(bad).__name__}'$"):
        setattr(v, field, bad)
    assert (v.data, v.grad) == (1.0, 0)


@pytest.mark.parametrize("make, exc, message", [
    (lambda: Value(1000.0).exp(), OverflowError, "exp(1000.0) is too large"),
    (lambda: Value(1000).exp(), OverflowError, "exp(1000) is too large"),
    (lambda: Value(-1.0).log(), ValueError, "log of -1.0"),
    (lambda: Value(0.0).log(), ValueError, "log of 0.0"),
    (lambda: Value(10.0) ** 400, OverflowError, "10.0 ** 400 is too large"),
    (lambda: Value(10.0) ** Value(400.0), OverflowError, "10.0 ** 400.0 is too large"),
    (lambda: 2 ** Value(5000), OverflowError, "2 ** 5000 is too large"),
    (lambda: Value(0.0) ** -1, ZeroDivisionError,
     "0.0 ** -1: 0.0 cannot be raised to a negative power"),
    (lambda: 1 / Value(0.0), ZeroDivisionError,
     "0.0 ** -1: 0.0 cannot be raised to a negative power"),
    (lambda: Value(-8.0) ** 0.5, ValueError,
     "(-8.0) ** 0.5: negative number cannot be raised to a fractional power"),
    (lambda: Value(2 ** 1000) * 2 ** 100, OverflowError,
     "int 1.0715086071862673e+301 * 1.2676506002282294e+30 is too large for a float"),
])
def test_range_and_domain_errors_name_the_op_and_operand(make, exc, message):
    with pytest.raises(exc) as info:
        make()
    assert str(info.value) == message


def test_python_raises_the_same_types_for_the_same_math():
    """The types above are the ones Python's math gives for these operands."""
    for f, exc in [(lambda: math.exp(1000.0), OverflowError), (lambda: math.log(-1.0), ValueError),
                   (lambda: 10.0 ** 400, OverflowError), (lambda: 0.0 ** -1, ZeroDivisionError)]:
        with pytest.raises(exc):
            f()


@pytest.mark.parametrize("expr", ["v + a", "v - a", "v * a", "v / a", "v ** a",
                                  "a + v", "a - v", "a * v", "a / v"])
def test_a_value_and_a_numpy_array_go_elementwise_on_either_side(expr):
    """numpy applies the op to each element, giving an array of Values (micrograd's
    `a + v` does the same; its `v + a` holds the whole array as one Value's data,
    which a float64 node cannot): all four operators alike, on both sides."""
    np = pytest.importorskip("numpy")
    a = np.array([1.5, 2.0, 4.0])
    out = eval(expr, {}, {"v": Value(2.0), "a": a})
    assert isinstance(out, np.ndarray) and out.shape == a.shape
    for k, x in enumerate(a):
        one = eval(expr, {}, {"v": Value(2.0), "a": float(x)})
        assert isinstance(out[k], Value) and out[k].data == one.data


@pytest.mark.parametrize("code", ["pow(Value(2.0), 2, 5)", "Value(2.0).relu(1)",
                                  "Value(2.0).__add__()", "Value(2.0).__mul__(1, 2)"])
def test_a_wrong_number_of_arguments_names_the_method_as_micrograd(code):
    from oracle import run_original
    with pytest.raises(TypeError) as info:
        eval(code, {}, {"Value": Value})
    theirs = run_original(f"""
        from micrograd.engine import Value
        try:
            {code}
            result = None
        except TypeError as e:
            result = str(e)
        """)
    assert str(info.value) == theirs
