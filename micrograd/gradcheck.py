"""gradcheck: compare backward()'s gradients with central finite differences.

Like torch.autograd.gradcheck, for scalar Values: f takes Values and returns a
Value; every input is perturbed by +-eps in float64 and the slope of f's data
is compared with the grad that backward() gave that input's leaf.

Not a proof at points where f is not differentiable (relu at 0: backward gives
0, as PyTorch and micrograd do; finite differences give 0.5), and eps is
absolute, as in PyTorch: for inputs far from 1 in magnitude pass an eps that
is representable next to them (say 1e-6 * abs(x)).
"""
from __future__ import annotations

TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    from typing import Callable, Iterable

from micrograd.engine import Value

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """backward() and finite differences disagree for one input."""


def _evaluate(f: Callable[..., Value], xs: list[float]) -> tuple[Value, list[Value]]:
    """f at float64 leaves with data xs: (output Value, leaves)."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, not {type(out).__name__!r}")
    return out, leaves


def _close(analytic: float, numeric: float, atol: float, rtol: float) -> bool:
    """As torch.allclose: |a - n| <= atol + rtol * |n|; equal infinities match, nan never."""
    if analytic == numeric:
        return True
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)


def gradcheck(f: Callable[..., Value], inputs: Iterable[Value | float], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """True if backward() agrees with finite differences for every input of f.

    inputs: numbers or Values (only their data is used: f runs on fresh leaves,
    so the callers' Values keep their grads). On a mismatch, raises
    GradcheckError naming the input and both numbers, or returns False when
    raise_exception is False.
    """
    xs = [float(x.data if isinstance(x, Value) else x) for x in inputs]
    out, leaves = _evaluate(f, xs)
    out.backward()
    analytic = [float(leaf.grad) for leaf in leaves]
    for k, x in enumerate(xs):
        plus = _evaluate(f, xs[:k] + [x + eps] + xs[k + 1:])[0].data
        minus = _evaluate(f, xs[:k] + [x - eps] + xs[k + 1:])[0].data
        numeric = (plus - minus) / (2 * eps)
        if not _close(analytic[k], numeric, atol, rtol):
            if not raise_exception:
                return False
            raise GradcheckError(
                f"gradcheck: d out / d input {k} (data {x!r}): backward gives {analytic[k]!r}, "
                f"finite differences (eps {eps!r}) give {numeric!r}; "
                f"difference {abs(analytic[k] - numeric)!r} exceeds atol {atol!r} + rtol {rtol!r} * |numeric|")
    return True
