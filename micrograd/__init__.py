"""micrograd, with its graph in C: `from micrograd.engine import Value` as before.

This file is micrograd-c's own (micrograd 0.1.0's __init__.py is empty), so it runs
first on any `import micrograd...` and checks that the package is whole:
- a source checkout that shadows the installed package (Python puts the current
  folder first on sys.path) has no compiled engine: an ImportError says why and
  what to do, instead of "No module named 'micrograd._mg'";
- PyPI's `micrograd` installed beside us shares the import name, and each
  overwrites the other's files: a warning, once, with the exact commands to fix it.
`python -m micrograd` reports all of this, and words the warning (micrograd/doctor.py).
Not here: anything that needs the C engine (engine.py).
"""
import os as _os
import sys as _sys
from importlib.util import find_spec as _find_spec

# (doctor.py repeats these: it must work where the original's empty __init__.py replaced ours)
DIST = "micrograd-c"            # our distribution; the import name `micrograd` is shared
ORIGINAL = "micrograd"          # Karpathy's, on PyPI


def _dist_version(name):
    """The installed version of distribution `name`, or None."""
    from importlib import metadata      # here: importing it costs more than all of micrograd
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def __getattr__(name: str) -> str:
    """micrograd.__version__, read from the installed metadata when first asked for."""
    if name == "__version__":
        version = globals()["__version__"] = _dist_version(DIST) or "0+unknown"  # a bare checkout
        return version
    raise AttributeError(f"module 'micrograd' has no attribute {name!r}")


def _original_is_installed():
    """Whether some sys.path folder holds a `micrograd` distribution's metadata: a listdir
    per folder, so that the usual import needs no importlib.metadata."""
    for folder in _sys.path:
        try:
            names = _os.listdir(folder or ".")
        except OSError:
            continue
        for n in names:
            n = n.lower()
            if n.startswith(("micrograd-", "micrograd.")) and \
                    n.endswith((".dist-info", ".egg-info")):
                return True
    return False


class CoexistenceWarning(UserWarning):
    """micrograd-c and PyPI's micrograd are both installed."""


def _not_built_message(here):
    """Why micrograd._mg is missing from the package folder `here`, and what to do."""
    root = _os.path.dirname(here)
    if _os.path.exists(_os.path.join(root, "setup.py")) and \
            _os.path.isdir(_os.path.join(root, "csrc")):
        installed = _dist_version(DIST)
        elsewhere = (f" ({DIST} {installed} is installed, and is what Python imports from any "
                     "other folder)") if installed else ""
        return (f"micrograd's compiled engine (micrograd._mg) is not in {here}: that folder is "
                f"{DIST}'s source checkout, which Python imports before the installed package "
                f"because it is the current folder or on sys.path{elsewhere}. Either install "
                f"the checkout in editable mode, which compiles the engine in place "
                f"(pip install -e {root}), or run Python from another folder.")
    return (f"micrograd's compiled engine (micrograd._mg) is missing from {here}: the "
            f"installation is incomplete (was PyPI's micrograd installed or uninstalled over "
            f"it?). Reinstall: pip install --force-reinstall {DIST}; `python -m micrograd` "
            f"tells what is installed.")


if _find_spec("micrograd._mg") is None:
    raise ImportError(_not_built_message(__path__[0]), name="micrograd._mg")

if _original_is_installed() and _dist_version(ORIGINAL) is not None:
    import warnings as _warnings
    from micrograd.doctor import coexistence_message as _message
    _warnings.warn(_message(_dist_version(ORIGINAL)), CoexistenceWarning, stacklevel=2)

from micrograd.engine import Value  # noqa: E402  (after the checks above)

__all__ = ["Value", "__version__"]
