"""micrograd, with its graph in C: `from micrograd.engine import Value` as before."""
from micrograd.engine import Value

__all__ = ["Value"]
