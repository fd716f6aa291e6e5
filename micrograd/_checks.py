"""Checks of numbers given by users, shared by nn (a model's state) and optim (hyper-parameters
and an optimizer's state), so both reject the same things with the same words.
Not here: anything that knows about C, or Value (engine.py checks what Value takes).
"""
import numbers


def real(x, name):
    """x, a real number that a float64 holds, returned as given (an int stays an int).
    TypeError for anything else, a bool included; ValueError for a number too large for a
    float64, as 10**400 (float() raises OverflowError for it, and Value() too)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, not {type(x).__name__!r}")
    try:
        float(x)
    except OverflowError:       # the message never prints x: str() of a huge int may fail too
        raise ValueError(f"{name} is too large for a float64 (above 1.8e308)") from None
    return x
