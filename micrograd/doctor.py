"""python -m micrograd (or python -m micrograd.doctor): which micrograd this Python loads.

Prints the engine that `import micrograd.engine` gives (micrograd-c's C engine or
micrograd 0.1.0's pure Python), its version, where it comes from, how the C engine
was compiled, and whether PyPI's `micrograd` is installed too, with the commands
that fix a mix-up. Exit status 0 if micrograd-c's engine is loaded alone, else 1.
This file is ours only: micrograd 0.1.0 has no doctor.py or __main__.py, so they
survive the original being installed over us and can report it.
Not a test runner and not a benchmark.
"""
import platform
import sys
from importlib import metadata

DIST, ORIGINAL = "micrograd-c", "micrograd"


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _where(name):
    """Where distribution `name` is installed, and how (PEP 610's direct_url.json)."""
    import json
    for dist in metadata.distributions(name=name):
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            direct = {}
        how = ", editable" if direct.get("dir_info", {}).get("editable") else ""
        source = direct.get("url", "")
        source = f", from {source[len('file://'):]}" if source.startswith("file://") else ""
        return f"{dist.locate_file('')}{how}{source}"
    return None


def report():
    """(lines, ok): the report, and whether micrograd-c's C engine is loaded alone."""
    lines, ok = [], True
    lines.append(f"python:       {platform.python_implementation()} {platform.python_version()} "
                 f"({sys.executable})")
    import micrograd.engine as engine
    ours = hasattr(engine, "stats") and hasattr(engine, "_arena")
    ours_v, theirs_v = _version(DIST), _version(ORIGINAL)
    if ours:
        lines.append(f"engine:       micrograd-c {ours_v or '(not installed: a bare checkout)'}, "
                     "the C engine")
    else:
        ok = False
        lines.append(f"engine:       micrograd {theirs_v or '0.1.0'}'s pure-Python engine "
                     "(Karpathy's original: about 70x slower)")
    lines.append(f"loaded from:  {engine.__file__}")
    try:
        from micrograd._mg import ffi, lib
        import micrograd._mg as mg
        info = ffi.string(lib.mg_build_info()).decode() if hasattr(lib, "mg_build_info") \
            else "unknown (built before micrograd-c 1.0.0)"
        lines.append(f"C extension:  {mg.__file__} (ABI {lib.mg_abi_version()})")
        lines.append(f"compiled by:  {info}")
    except ImportError as e:
        lines.append(f"C extension:  not importable ({e})")
    lines.append(f"micrograd-c:  {ours_v} in {_where(DIST)}" if ours_v else
                 "micrograd-c:  not installed")
    if theirs_v:
        ok = False
        lines.append(f"micrograd:    {theirs_v} (PyPI's original) ALSO installed, in "
                     f"{_where(ORIGINAL)}")
        lines.append("")
        from micrograd import coexistence_message
        lines.extend(coexistence_message(theirs_v).splitlines())
    else:
        lines.append("micrograd:    PyPI's original is not installed (good: no conflict)")
    if not ours and not theirs_v:
        lines.append("")
        lines.append(f"The original's files replaced micrograd-c's; reinstall: "
                     f"{sys.executable} -m pip install --force-reinstall {DIST}")
    if ok:
        lines.append("status:       ok")
    return lines, ok


def main():
    lines, ok = report()
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
