"""The C boundary: the compiled engine, the one arena every Value lives in, its
statuses as Python's exceptions, numbers as C holds them, and what C says about ops.

Internal: micrograd.engine is the face; everything here is used by its modules.
"""
import operator

from micrograd._mg import ffi, lib

_ABI_VERSION = 6
if lib.mg_abi_version() != _ABI_VERSION:
    raise ImportError(f"micrograd._mg is stale (ABI {lib.mg_abi_version()}, expected "
                      f"{_ABI_VERSION}): reinstall the package to rebuild it")

# The arena owns every node. It is never freed (the OS reclaims it at exit):
# Values can outlive this module at interpreter exit (in reference cycles, in
# module globals) and their deaths still release nodes, while an ffi.gc
# finalizer would run in arbitrary order with theirs (a use-after-free).
_arena = lib.mg_arena_new(1024)
if _arena == ffi.NULL:
    raise MemoryError("cannot allocate the micrograd arena")
lib.mg_use(_arena)              # the hot calls (lib.mg_use_*) take no arena argument

_EXC = {lib.MG_ENOMEM: MemoryError, lib.MG_EINDEX: IndexError,
        lib.MG_EZERODIV: ZeroDivisionError, lib.MG_ERANGE: OverflowError,
        lib.MG_EDOMAIN: ValueError, lib.MG_ECOMPLEX: ValueError, lib.MG_EPYTHON: ValueError,
        lib.MG_ENOTINT: TypeError, lib.MG_EBOUNDS: IndexError}     # a list's x[1.5], x[10]


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
    x = _read(lhs, lib.MG_DATA) if lhs >= 0 else arg
    y = _read(rhs, lib.MG_DATA) if rhs >= 0 else int(arg) if arg_is_int else arg  # x ** arg
    return _operands_error(status, op, x, y)


def _operands_error(status, op, x, y):
    """_op_error's message for operands x and y (numbers: ints where micrograd's are)."""
    name, infix = _op_name(op), lib.mg_op_kind(op) == lib.MG_KIND_INFIX
    if name == "**" and x < 0:
        x = f"({x})"                        # (-8.0) ** 0.5, not -(8.0 ** 0.5)
    expr = f"{x} {name} {y}" if infix else f"{name}({x})"
    if status == lib.MG_ERANGE and infix and name != "**":   # int data, as micrograd's
        return f"int {float(x)!r} {name} {float(y)!r} is too large for a float"
    if status == lib.MG_ERANGE:
        return f"{expr} is too large"
    if status == lib.MG_EDOMAIN:                # log(x), x <= 0: math.log's ValueError
        return f"{name} of {x}"
    if status in (lib.MG_EZERODIV, lib.MG_ECOMPLEX):
        return f"{expr}: {_strerror(status)}"
    return None                                 # not the operands' fault: out of memory


def _nary_error(status, op, kids):
    """The message of the error `status` of an n-ary node op(*kids), naming its operands
    where they are at fault: pick's index ('pick index 1.5 is not an integer')."""
    if status not in (lib.MG_ENOTINT, lib.MG_EBOUNDS):
        return None                             # out of memory: no operand's fault
    return _index_error(status, op, _read(kids[0], lib.MG_DATA), len(kids) - 1)


def _index_error(status, op, t, k):
    """_nary_error's message for index t (a number) into k values."""
    if status == lib.MG_ENOTINT:
        return f"{_op_name(op)} index {t!r} is not an integer"
    return f"{_op_name(op)} index {t!r} is out of range for {k} values"


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


def _write(i, field, x, _set=lib.mg_use_set):
    t = type(x)
    status = _set(i, field, x, t is int) if t is float or t is int else \
        _set(i, field, *_number(x, "Value grad" if field == lib.MG_GRAD else "Value data"))
    if status:
        _check(status)


def _read(i, field, _value=lib.mg_use_value, _is_int=lib.mg_use_is_int):
    # one C call, and a second only for a whole number, which may be a Python int
    x = _value(i, field)
    return int(x) if x.is_integer() and _is_int(i, field) else x


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


def _is_nary(op):
    """Whether op takes any number of children (dot, logsumexp, an op defined in Python)."""
    return lib.mg_op_arity(op) == -1
