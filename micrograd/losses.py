"""Losses as expressions of Values, so that a graph built once replays with forward().

Nothing here reads .data while building: change the leaves (set_data) and
loss.forward() gives the loss of the new data. A class given as an int is
chosen when the graph is built; to change labels between replays, give the
class index as a Value (its data is read again: engine.pick), or targets as
Values (one-hot or probabilities), and set their data instead.
Not here: reductions other than the mean, or a loss object with state.
"""
from __future__ import annotations

import numbers
import operator

from micrograd.engine import Value, dot, logsumexp, pick

TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    from typing import Any, Iterable, Sequence, SupportsIndex, TypeVar

    from micrograd._handles import Number
    _A = TypeVar("_A")
    _B = TypeVar("_B")


def mse(preds: Iterable[Value], targets: Iterable[Value | Number]) -> Value:
    """mean((p - t)**2 for p, t in zip(preds, targets)), as torch's mse_loss."""
    preds, targets = _same_length(preds, targets)
    return sum((p - t)**2 for p, t in zip(preds, targets)) * (1.0 / len(preds))


def hinge(scores: Iterable[Value], labels: Iterable[Value | Number]) -> Value:
    """The SVM max-margin loss of micrograd's demo, averaged: labels are +1 or -1."""
    scores, labels = _same_length(scores, labels)
    losses = [(1 + -y*s).relu() for y, s in zip(labels, scores)]
    return sum(losses) * (1.0 / len(losses))


def cross_entropy(logits: Iterable[Value | Number] | Iterable[Sequence[Value | Number]],
                  target: SupportsIndex | Value | Iterable[Any]) -> Value:
    """Softmax cross-entropy, as torch's cross_entropy: logsumexp(logits) - logits[target]
    for a class index (an int, a numpy integer; or a Value holding it, picked again at each
    replay: a label that is data, engine.pick); sum(t) * logsumexp(logits) - sum(t_k *
    logits_k) for target probabilities t (a list, tuple or numpy array of numbers, or of
    Values to be changed between replays). logsumexp is one node that subtracts the
    largest logit first: stable at any scale. Batched: a list of logit lists and a list
    (or array) of targets give the mean loss: labels, or rows of probabilities such as
    np.eye(k)[labels]."""
    logits = list(logits)
    if logits and isinstance(logits[0], (list, tuple)):
        logits, target = _same_length(logits, target)
        losses = [cross_entropy(z, t) for z, t in zip(logits, target)]
        return sum(losses) * (1.0 / len(losses))
    if not logits:
        raise ValueError("cross_entropy needs at least one logit")
    lse = logsumexp(logits)
    if isinstance(target, Value):       # the class index as data
        return lse - pick(logits, target)
    index = _class_index(target, len(logits))
    if index is not None:
        return lse - logits[index]
    if hasattr(target, "tolist"):       # a numpy array: its numbers as Python's, as in a list
        target = target.tolist()
    logits, target = _same_length(logits, target)
    return lse * sum(target) - dot(target, logits, Value(0.0), fused=True)


def _class_index(target: Any, n: int) -> int | None:
    """target as a class index in range(-n, n), or None if it is n probabilities."""
    if not isinstance(target, bool):
        try:
            index = operator.index(target)      # an int, a numpy integer or 0-d integer array
        except TypeError:
            pass
        else:
            if not -n <= index < n:
                raise IndexError(f"target {index} is out of range for {n} classes")
            return index
    if isinstance(target, (bool, numbers.Number, str, bytes)) \
            or getattr(target, "ndim", None) == 0:
        whole = _whole(target)
        hint = "" if whole is None else f": give the int {whole} for class {whole}"
        raise TypeError(f"cross_entropy's target must be a class index (an int) or a sequence "
                        f"of {n} probabilities, not {type(target).__name__} {target!r}{hint}")
    return None


def _whole(x: Any) -> int | None:
    """int(x) if x is a number of a whole value (1.0, np.float64(2), '3'), else None."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return int(x) if x.is_integer() else None


def _same_length(a: Iterable[_A], b: Iterable[_B]) -> tuple[list[_A], list[_B]]:
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"got {len(a)} predictions and {len(b)} targets")
    if not a:
        raise ValueError("a loss over no examples")
    return a, b
