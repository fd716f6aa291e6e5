"""Losses as expressions of Values, so that a graph built once replays with forward().

Nothing here reads .data while building: change the leaves (set_data) and
loss.forward() gives the loss of the new data. A class given as an int is
chosen when the graph is built; to change labels between replays, give
targets as Values (one-hot or probabilities) and set their data instead.
Not here: reductions other than the mean, or a loss object with state.
"""
import operator

from micrograd.engine import Value, dot, logsumexp


def mse(preds, targets):
    """mean((p - t)**2 for p, t in zip(preds, targets)), as torch's mse_loss."""
    preds, targets = _same_length(preds, targets)
    return sum((p - t)**2 for p, t in zip(preds, targets)) * (1.0 / len(preds))


def hinge(scores, labels):
    """The SVM max-margin loss of micrograd's demo, averaged: labels are +1 or -1."""
    scores, labels = _same_length(scores, labels)
    losses = [(1 + -y*s).relu() for y, s in zip(labels, scores)]
    return sum(losses) * (1.0 / len(losses))


def cross_entropy(logits, target):
    """Softmax cross-entropy, as torch's cross_entropy: logsumexp(logits) - logits[target]
    for an int target; sum(t) * logsumexp(logits) - sum(t_k * logits_k) for a sequence
    of target probabilities t (Values, to be changed between replays, or numbers).
    logsumexp is one node that subtracts the largest logit first: stable at any scale.
    Batched: a list of logit lists and a list of targets give the mean loss."""
    logits = list(logits)
    if logits and isinstance(logits[0], (list, tuple)):
        logits, target = _same_length(logits, target)
        losses = [cross_entropy(z, t) for z, t in zip(logits, target)]
        return sum(losses) * (1.0 / len(losses))
    if not logits:
        raise ValueError("cross_entropy needs at least one logit")
    lse = logsumexp(logits)
    if hasattr(type(target), "__index__") and not isinstance(target, bool):
        target = operator.index(target)         # an int, or a numpy integer
        if not -len(logits) <= target < len(logits):
            raise IndexError(f"target {target} is out of range for {len(logits)} classes")
        return lse - logits[target]
    logits, target = _same_length(logits, target)
    return lse * sum(target) - dot(target, logits, Value(0.0), fused=True)


def _same_length(a, b):
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"got {len(a)} predictions and {len(b)} targets")
    if not a:
        raise ValueError("a loss over no examples")
    return a, b
