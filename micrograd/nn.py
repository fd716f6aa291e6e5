"""Module, Neuron, Layer, MLP: micrograd 0.1.0's nn.py, with a choice of activation.

Same draws (random.uniform(-1, 1), weights in order, bias Value(0)), same sum order
(b + w0*x0, then + w1*x1, ...), same reprs, so after the same random.seed a model
here holds exactly the original's parameters and computes bit-identical data.
A neuron's sum is engine.dot: the same nodes as upstream's sum(...), in one call.
Added, without changing the original signatures: activation='relu' | 'tanh' |
'sigmoid' | 'linear' (MLP applies it to hidden layers, the last layer stays linear
unless activate_output=True: MLP(3, [4, 4, 1], activation='tanh', activate_output=True)
is the lecture's network, tanh in every layer), fused=True (each neuron's sum is one
n-ary 'dot' node: the same data, fewer nodes, for replaying a graph with forward()),
and checks that reject bad sizes and activations up front; state_dict() /
load_state_dict() and save() / load(), which keep a model's parameters in JSON (every
float exact, as float.hex; nothing in a file is ever run).
Not here: anything that knows about C; parameters are ordinary Values.
Types: a Neuron gives a Value; a Layer or an MLP gives a Value or a list of Values (one
per output neuron), which only the model's sizes tell apart, so their __call__ is typed
Any (Output): `ypred = [n(x) for x in xs]` and `sum((yout - ygt)**2 ...)` type-check as
micrograd's code is written; say which it is where it matters (`out: Value = model(x)`).
"""
from __future__ import annotations

__all__ = ["Module", "Neuron", "Layer", "MLP", "save", "load", "to_torch", "from_torch",
           "Value", "random"]  # micrograd's, and ours

import errno
import json
import math
import operator
import os
import random
import secrets
import shutil
import stat
import struct

from micrograd._checks import real
from micrograd.engine import Value, dot, leaves
from micrograd._torch import from_torch, to_torch  # an MLP to PyTorch and back

# activation -> the name in a neuron's repr ('ReLUNeuron(2)', 'TanhNeuron(3)')
_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Linear"}

TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping, Sequence, TypeVar

    from micrograd._handles import Number
    Output = Any    # what a Layer or an MLP gives: a Value, or a list of Values (see above)
    _M = TypeVar("_M", bound="Module")


def _size(n, name):
    """n as a positive int; TypeError for a non-integer, ValueError for n <= 0."""
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(n).__name__!r}")
    n = operator.index(n)
    if n <= 0:
        raise ValueError(f"{name} must be positive, got {n}")
    return n


def _activation(name):
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: choose one of "
                         f"{', '.join(map(repr, _ACTIVATIONS))}")
    return name


class Module:

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0

    def parameters(self) -> list[Value]:
        return []

    def state_dict(self) -> dict[str, float | list[float]]:
        """{name: number or list of numbers}, a copy of every parameter's data; names
        as torch's: 'layers.0.neurons.3.w' (a list), 'layers.0.neurons.3.b'."""
        return {name: [v.data for v in p] if isinstance(p, list) else p.data
                for name, p in _named_parameters(self)}

    def load_state_dict(self, state: Mapping[str, float | Sequence[float]]) -> None:
        """Set every parameter from a state_dict(); checks it all before writing anything,
        so a wrong state (ValueError, TypeError) leaves the model unchanged."""
        for v, x in _checked_writes(self, state):
            v.data = x

class Neuron(Module):

    def __init__(self, nin: int, nonlin: bool = True, activation: str = "relu",
                 fused: bool = False) -> None:
        self.activation = _activation(activation)
        self.w = leaves(random.uniform(-1,1) for _ in range(_size(nin, "nin")))  # side by side
        self.b = Value(0)
        self.nonlin = nonlin
        self.fused = fused

    def __call__(self, x: Iterable[Value | Number]) -> Value:
        act = dot(self.w, x, self.b, self.fused)   # sum((wi*xi for wi,xi in zip(self.w, x)), self.b)
        if not self.nonlin or self.activation == "linear":
            return act
        return getattr(act, self.activation)()

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        kind = _ACTIVATIONS[self.activation] if self.nonlin else "Linear"
        return f"{kind}Neuron({len(self.w)})"

class Layer(Module):

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        nout = _size(nout, "nout")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Iterable[Value | Number]) -> Output:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"

class MLP(Module):

    def __init__(self, nin: int, nouts: list[int] | tuple[int, ...], activation: str = "relu",
                 activate_output: bool = False, fused: bool = False) -> None:
        if not isinstance(nouts, (list, tuple)):
            raise TypeError(f"nouts must be a list of layer sizes, not {type(nouts).__name__!r}")
        if not nouts:
            raise ValueError("nouts must hold at least one layer size")
        _activation(activation)       # fail before any random draw
        sz = [_size(nin, "nin")] + [_size(n, "each of nouts") for n in nouts]
        self.layers = [Layer(sz[i], sz[i+1], nonlin=activate_output or i!=len(nouts)-1,
                             activation=activation, fused=fused) for i in range(len(nouts))]

    def __call__(self, x: Iterable[Value | Number]) -> Output:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# ---------------------------------------------------------------- state_dict, save, load

def _named_parameters(module, prefix=""):
    """(name, Value or list of Values) for every parameter below module, in attribute
    order: a Value or a list of Values is a parameter, a list of Modules is descended."""
    for attr, x in vars(module).items():
        if isinstance(x, Value) or (isinstance(x, list) and x
                                    and all(isinstance(v, Value) for v in x)):
            yield prefix + attr, x
        elif isinstance(x, list) and x and all(isinstance(m, Module) for m in x):
            for i, m in enumerate(x):
                yield from _named_parameters(m, f"{prefix}{attr}.{i}.")


def _checked_writes(module, state):
    """[(Value, number)] to set, once state is known to fit module exactly."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict from state_dict(), not {type(state).__name__!r}")
    params = dict(_named_parameters(module))
    missing = [k for k in params if k not in state]
    unexpected = [k for k in state if k not in params]
    if missing or unexpected:
        raise ValueError("state does not fit this model: " + "; ".join(
            f"{what} {len(keys)} key(s): {', '.join(map(repr, keys[:3]))}"
            f"{', ...' if len(keys) > 3 else ''}"
            for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys))
    writes = []
    for name, p in params.items():
        x = state[name]
        if isinstance(p, list):
            if not isinstance(x, (list, tuple)):
                raise TypeError(f"{name}: expected a list of {len(p)} numbers, "
                                f"got {type(x).__name__!r}")
            if len(x) != len(p):
                raise ValueError(f"{name}: expected {len(p)} numbers, got {len(x)}")
            writes += zip(p, (real(xi, f"{name}[{i}]") for i, xi in enumerate(x)))
        else:
            writes.append((p, real(x, name)))
    return writes


FORMAT = "micrograd-c state_dict"
_NAN = "nan:"       # a NaN, written with its 64 bits (sign and payload) in hex


def save(model: Module, path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> None:
    """Write model.state_dict() to path as JSON: ints as ints, floats as float.hex
    strings ('0x1.8p+1', 'inf', and 'nan:7ff8000000000000' for a NaN), so loading gives
    back every bit.
    The file is written whole or not at all: into a new file of its own beside path,
    flushed to disk, then renamed over path. So a failed save leaves path as it was, and
    a load meanwhile, or other saves to the same path, never see half a file.
    As open(path, 'w'): a symlink is followed (its target is replaced, the link stays a
    link), a new file gets the permissions the umask gives, an existing file keeps its own.
    Unlike it, nothing is written when path exists and is not a regular file: a directory
    is IsADirectoryError, a FIFO, device or socket is shutil.SpecialFileError (an OSError);
    the folder must be writable; a hard link to the old file keeps the old contents."""
    state = _module(model).state_dict()
    text = json.dumps({"format": FORMAT, "version": 1,
                       "state": {k: _encode(v) for k, v in state.items()}})
    target, mode = _save_target(path)
    fd, tmp = _new_file_beside(target, path)
    try:
        with open(fd, "w", encoding="utf-8") as f:
            if mode is not None and stat.S_IMODE(os.fstat(fd).st_mode) != mode:
                os.chmod(tmp, mode)
            f.write(text + "\n")
            f.flush()
            os.fsync(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


# what a path is when it is neither a regular file nor a directory
_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _save_target(path):
    """(the file save() replaces, its permissions or None if it is new): path with its
    symlinks resolved, as open() follows them. Refused, before anything is written, if
    path exists and is not a regular file."""
    name = os.fsdecode(path)
    try:
        st = os.stat(name)          # follows symlinks: a loop raises here, as open() raises
    except FileNotFoundError:       # a new file (or a dangling link: open() makes its target)
        return os.path.realpath(name), None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
    if not stat.S_ISREG(st.st_mode):
        kind = next((k for is_kind, k in _SPECIAL if is_kind(st.st_mode)), "not a regular file")
        raise shutil.SpecialFileError(f"cannot save to {name!r}: it is {kind}, not a regular "
                                      "file (save() would replace it by one)")
    return os.path.realpath(name), stat.S_IMODE(st.st_mode)


def _new_file_beside(target, path):
    """(fd, name) of a new empty file in target's folder, made as open(target, 'w') makes
    a file (mode 0o666 less the umask, applied by the OS), under a random name of its own
    (O_EXCL): concurrent saves never share one, and no file of the user's is touched."""
    folder, base = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(10):             # 64 random bits: a second try is already unheard of
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as e:        # a missing or read-only folder: named as open() names it
            raise type(e)(e.errno, e.strerror, os.fsdecode(path)) from None
    raise FileExistsError(errno.EEXIST, "every temporary name tried exists", tmp)


def load(model: _M, path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> _M:
    """Set model's parameters from a file written by save(), and return model. A file
    that is not such a file, or does not fit the model, raises ValueError or TypeError
    naming what is wrong, and leaves the model unchanged."""
    _module(model)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject)
    except ValueError as e:             # not UTF-8, or not JSON: truncated or corrupted
        raise ValueError(f"{os.fspath(path)} is not a model file from "
                         f"micrograd.nn.save (truncated or corrupted?): {e}") from None
    except RecursionError:              # '[[[[...' deeper than the json module descends
        raise ValueError(f"{os.fspath(path)} is not a model file from micrograd.nn.save: "
                         "its JSON nests too deeply") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1 \
            or not isinstance(doc.get("state"), dict):
        raise ValueError(f"{os.fspath(path)} is not a model file from micrograd.nn.save: "
                         f"expected a JSON object with format {FORMAT!r}, version 1 and a state")
    model.load_state_dict({k: _decode(v, k) for k, v in doc["state"].items()})
    return model


def _module(model):
    if not isinstance(model, Module):
        raise TypeError(f"model must be a micrograd.nn.Module, not {type(model).__name__!r}")
    return model


def _encode(x):
    if isinstance(x, list):
        return [_encode(v) for v in x]
    if isinstance(x, int):
        return x
    if math.isnan(x):
        return f"{_NAN}{struct.unpack('<Q', struct.pack('<d', x))[0]:016x}"
    return x.hex()


def _decode(x, name):
    """A number, or a list of numbers (one level: a state holds nothing deeper)."""
    if isinstance(x, list):
        return [_decode_number(v, f"{name}[{i}]") for i, v in enumerate(x)]
    return _decode_number(x, name)


def _decode_number(x, name):
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    if not isinstance(x, str):
        raise TypeError(f"{name}: expected an int or a float.hex string, "
                        f"got {type(x).__name__!r}")
    if x.startswith(_NAN) and len(x) == len(_NAN) + 16:
        try:
            f = struct.unpack("<d", struct.pack("<Q", int(x[len(_NAN):], 16)))[0]
        except (ValueError, struct.error):
            f = 0.0
        if math.isnan(f):
            return f
    elif x.lstrip("-").startswith("0x") or x in ("inf", "-inf"):
        try:
            return float.fromhex(x)
        except (ValueError, OverflowError):
            pass
    raise ValueError(f"{name}: {x!r} is not a float.hex string")


def _reject(constant):
    raise ValueError(f"{constant} is not allowed (floats are float.hex strings)")
