"""SGD, Adam and AdamW as torch.optim computes them, each step one C call over all parameters.

    opt = Adam(model.parameters(), lr=1e-2)
    for k in range(steps):
        loss = ...; opt.zero_grad(); loss.backward(); opt.step()
        opt.lr = 1e-2 * (1 - k / steps)         # lr may change between steps

An optimizer holds its parameter Values (so their nodes live as long as it does)
and a C object (mg_optim, csrc/optim.c) holding the moments, which dies with it
(ffi.gc). The update rules are torch.optim's single-tensor ones in torch's order
of operations: after 100 steps on the same problem, parameters equal torch's
float64 ones to a relative 1e-12 (tests/test_optim.py).
Not here: parameter groups, amsgrad, maximize, sparse grads, lr schedulers (set opt.lr).
Decisions, tested:
- Duplicated parameters raise ValueError (torch warns that they will, one day).
- zero_grad() sets grads to the int 0, as micrograd's Module.zero_grad (torch: None).
- state_dict() is plain Python data: the optimizer's name, its hyper-parameters,
  the step count and one list of floats per moment (one float per parameter, in
  parameter order). load_state_dict() takes the hyper-parameters too, as torch
  does, and raises ValueError naming what is wrong, changing nothing: a number no
  float64 holds (10**400) included, and a step count beyond C's int64 (MAX_STEP);
  step() raises OverflowError rather than count past it.
- An optimizer pickles and copies (copy.deepcopy copies its parameters too, as for
  a torch optimizer: see __getstate__); its C object is rebuilt from state_dict().
"""
from __future__ import annotations

import numbers

from micrograd._checks import real
from micrograd._mg import ffi, lib
from micrograd.engine import Value, _arena, _check

# The largest step count: C counts steps in an int64_t (csrc/optim.c), and signed overflow
# is undefined behaviour, so load_state_dict() refuses more and step() refuses to go past
# it. The other numbers that cross into C are doubles (lr, hyper-parameters, moments) and
# the parameter count (an int32_t, as the arena's indices: distinct Values cannot exceed it).
MAX_STEP = 2**63 - 1
TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Mapping, TypeVar, overload
    _T = TypeVar("_T")     # what step(closure) returns: closure's result


def _float(x, name):
    """x as a float: TypeError for anything but a real number, ValueError if too large."""
    return float(real(x, name))


def _nonnegative(x, name, message):
    x = _float(x, name)
    if not 0.0 <= x:        # NaN too
        raise ValueError(f"{message}: {x}")
    return x


def _parameters(params):
    """params as a list of distinct Values, with torch's errors."""
    if isinstance(params, Value):
        params = None       # a single Value is not an iterable of them
    try:
        params = list(params)
    except TypeError:
        raise TypeError("params argument given to the optimizer should be an iterable "
                        f"of Values, but got {type(params).__name__}") from None
    if not params:
        raise ValueError("optimizer got an empty parameter list")
    for p in params:
        if not isinstance(p, Value):
            raise TypeError("optimizer can only optimize Values, but one of the params "
                            f"is {type(p).__name__}")
    if len({p._i for p in params}) != len(params):
        raise ValueError("optimizer got duplicate parameters: each Value may appear once")
    return params


def _m_v(buffers):
    """C's m and v from an optimizer's moment buffers: SGD has no v (NULL)."""
    return buffers[0], buffers[1] if len(buffers) > 1 else ffi.NULL


class Optimizer:
    """What SGD, Adam and AdamW share. A subclass names its C kind, its moments
    (as torch's state names them) and checks its hyper-parameters."""
    _name = "Optimizer"
    _kind: int | None = None
    _moments: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Value], lr: float, **hyper: Any) -> None:
        self.lr = lr                            # torch checks the numbers first, then params
        self._hyper = self._checked(**hyper)
        self._params = _parameters(params)
        self._c = self._new_c(self._hyper)
        self._steps_left = MAX_STEP             # C's count may grow by this much more

    @staticmethod
    def _checked(**hyper: Any) -> dict[str, Any]:
        """The hyper-parameters, checked as torch checks them, as plain Python data."""
        raise NotImplementedError

    def _config(self, hyper: dict[str, Any]) -> dict[str, Any]:
        """The fields of mg_optim_config for the checked hyper-parameters."""
        raise NotImplementedError

    def _new_c(self, hyper: dict[str, Any]) -> Any:
        """A new mg_optim with zero moments, freed with the Python object that holds it."""
        config = ffi.new("mg_optim_config *", self._config(hyper))
        idx = ffi.new("int32_t[]", [p._i for p in self._params])   # mg_optim_new copies it
        out = ffi.new("mg_optim **")
        _check(lib.mg_optim_new(_arena, config, idx, len(self._params), out))
        return ffi.gc(out[0], lib.mg_optim_free)

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, lr: float) -> None:
        self._lr = _nonnegative(lr, "lr", "Invalid learning rate")

    if TYPE_CHECKING:
        @overload
        def step(self, closure: None = None) -> None: ...
        @overload
        def step(self, closure: Callable[[], _T]) -> _T: ...
    def step(self, closure: Callable[[], _T] | None = None) -> _T | None:
        """One update of every parameter's data from its grad; returns closure()
        (called first) if given, as torch does."""
        if not self._steps_left:
            raise OverflowError(f"{self._name} has taken {MAX_STEP} steps (2**63 - 1), "
                                "the most its step count holds")
        loss = None if closure is None else closure()
        _check(lib.mg_optim_step(self._c, self._lr))
        self._steps_left -= 1
        return loss

    def zero_grad(self) -> None:
        _check(lib.mg_optim_zero_grad(self._c))

    def state_dict(self) -> dict[str, Any]:
        n = len(self._params)
        moments = [ffi.new("double[]", n) for _ in self._moments]
        step = ffi.new("int64_t *")
        _check(lib.mg_optim_state(self._c, *_m_v(moments), step))
        return {"optimizer": self._name,
                "lr": self._lr, **self._hyper, "step": step[0],
                **{name: ffi.unpack(m, n) for name, m in zip(self._moments, moments)}}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        try:
            lr, hyper, step, moments = self._parsed(state_dict)
        except (TypeError, ValueError) as e:
            raise ValueError(f"cannot load the state of {self._name}: {e}") from None
        c = self._new_c(hyper)                  # replaces the old one only if all went well
        moments = [ffi.new("double[]", m) for m in moments]
        _check(lib.mg_optim_load(c, *_m_v(moments), step))
        self._c, self._lr, self._hyper = c, lr, hyper
        self._steps_left = MAX_STEP - step

    def __getstate__(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """For pickle and copy: every attribute but the C object, which is rebuilt from
        state_dict(). So copy.deepcopy(opt) copies the parameters too (as it copies a
        torch optimizer's), giving an optimizer over the copies: deepcopy a model and its
        optimizer together, copy.deepcopy((model, opt)), for the copy to train the copied
        model. copy.copy(opt) steps the same Values, with moments of its own."""
        return {k: v for k, v in vars(self).items() if k != "_c"}, self.state_dict()

    def __setstate__(self, state: tuple[dict[str, Any], dict[str, Any]]) -> None:
        attributes, state_dict = state
        vars(self).update(attributes)
        self.load_state_dict(state_dict)

    def _parsed(self, state: Any) -> tuple[float, dict[str, Any], int, list[list[float]]]:
        if not isinstance(state, dict):
            raise TypeError(f"state_dict must be a dict, not {type(state).__name__!r}")
        keys = {"optimizer", "lr", *self._hyper, "step", *self._moments}
        if state.keys() != keys:
            missing, extra = sorted(keys - state.keys()), sorted(map(repr, state.keys() - keys))
            raise ValueError("; ".join(([f"missing {', '.join(missing)}"] if missing else []) +
                                       ([f"unexpected {', '.join(extra)}"] if extra else [])))
        if state["optimizer"] != self._name:
            raise ValueError(f"it is the state of {state['optimizer']!r}")
        lr = _nonnegative(state["lr"], "lr", "Invalid learning rate")
        hyper = self._checked(**{k: state[k] for k in self._hyper})
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) \
                or not 0 <= step <= MAX_STEP:
            shown = f"an int of {step.bit_length()} bits" if isinstance(step, int) \
                and step.bit_length() > 64 else repr(step)        # repr of 10**5000 fails
            raise ValueError(f"step must be an int >= 0 and <= 2**63 - 1, got {shown}")
        step = int(step)
        n = len(self._params)
        moments = []
        for name in self._moments:
            m = state[name]
            if not isinstance(m, (list, tuple)):
                raise ValueError(f"{name} must be a list of {n} numbers, not {type(m).__name__!r}")
            if len(m) != n:
                raise ValueError(f"{name} must be a list of {n} numbers (one per parameter), "
                                 f"got {len(m)}")
            moments.append([_float(x, f"each of {name}") for x in m])
        return lr, hyper, step, moments

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items())
        return f"{self._name}({len(self._params)} parameters, lr={self._lr!r}, {hyper})"


class SGD(Optimizer):
    """torch.optim.SGD: with momentum, dampening, nesterov and (L2) weight_decay."""
    _name = "SGD"
    _kind = lib.MG_SGD
    _moments = ("momentum_buffer",)

    def __init__(self, params: Iterable[Value], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    @staticmethod
    def _checked(momentum: float, dampening: float, weight_decay: float,  # type: ignore[override]
                 nesterov: bool) -> dict[str, Any]:
        momentum = _nonnegative(momentum, "momentum", "Invalid momentum value")
        dampening = _float(dampening, "dampening")
        weight_decay = _nonnegative(weight_decay, "weight_decay", "Invalid weight_decay value")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be a bool, not {type(nesterov).__name__!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        return {"momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                "nesterov": nesterov}

    def _config(self, hyper: dict[str, Any]) -> dict[str, Any]:
        return {"kind": self._kind, **hyper}


class Adam(Optimizer):
    """torch.optim.Adam (amsgrad=False), with L2 weight_decay added to the grad."""
    _name = "Adam"
    _kind = lib.MG_ADAM
    _moments = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)

    @staticmethod
    def _checked(betas: tuple[float, float], eps: float,  # type: ignore[override]
                 weight_decay: float) -> dict[str, Any]:
        eps = _nonnegative(eps, "eps", "Invalid epsilon value")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of numbers, not {betas!r}")
        betas = tuple(_float(b, "each of betas") for b in betas)
        for k, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {k}: {b}")
        weight_decay = _nonnegative(weight_decay, "weight_decay", "Invalid weight_decay value")
        return {"betas": betas, "eps": eps, "weight_decay": weight_decay}

    def _config(self, hyper: dict[str, Any]) -> dict[str, Any]:
        return {"kind": self._kind, "beta1": hyper["betas"][0], "beta2": hyper["betas"][1],
                "eps": hyper["eps"], "weight_decay": hyper["weight_decay"]}


class AdamW(Adam):
    """torch.optim.AdamW: Adam whose weight decay scales the parameter by
    (1 - lr * weight_decay) before the step, instead of adding to the grad."""
    _name = "AdamW"
    _kind = lib.MG_ADAMW

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)
