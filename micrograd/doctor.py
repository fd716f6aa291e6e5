"""python -m micrograd (or python -m micrograd.doctor): which micrograd this Python loads.

Prints the engine that `import micrograd.engine` gives (micrograd-c's C engine or
micrograd 0.1.0's pure Python), its version, where it comes from, how the C engine
was compiled, and whether PyPI's `micrograd` is installed too, with the commands
that fix a mix-up. Exit status 0 if micrograd-c's engine is loaded alone, else 1.
This file is ours only: micrograd 0.1.0 has no doctor.py or __main__.py, so they
survive the original being installed over us and can report it.
Not a test runner and not a benchmark.
"""
import os
import platform
import shlex
import sys
from importlib import metadata
from urllib.parse import unquote, urlparse

DIST, ORIGINAL = "micrograd-c", "micrograd"


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def reinstall_command():
    """The pip command that installs micrograd-c again as it was installed (PEP 610)."""
    import json
    pip = f"{sys.executable} -m pip install"
    direct = {}
    for dist in metadata.distributions(name=DIST):    # a checkout's egg-info may come first
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        if direct:
            break
    url = urlparse(direct.get("url", ""))
    path = unquote(url.path)
    if url.scheme == "file" and "dir_info" in direct:          # pip install [-e] FOLDER
        editable = direct["dir_info"].get("editable")
        return f"{pip} {'-e ' if editable else ''}{shlex.quote(path)}"
    if url.scheme == "file" and os.path.exists(path):           # pip install WHEEL or SDIST
        return f"{pip} {shlex.quote(path)}"
    version = _version(DIST)
    return f"{pip} {DIST}" + (f"=={version}" if version else "")


def coexistence_message(original_version):
    """What is wrong when PyPI's micrograd is installed too, and the commands that fix it
    (micrograd/__init__.py's warning, and the report below)."""
    return (f"PyPI's micrograd {original_version} (Karpathy's original) is installed beside "
            f"{DIST} {_version(DIST)}. Both install the package `micrograd`, so the one "
            f"installed last has overwritten the other's files, and `pip uninstall micrograd` "
            f"would delete files of {DIST}. To keep only {DIST}:\n"
            f"    {sys.executable} -m pip uninstall -y {ORIGINAL} {DIST}\n"
            f"    {reinstall_command()}\n"
            f"To switch to the original instead: uninstall both as above, then "
            f"`pip install {ORIGINAL}=={original_version}`. See `python -m micrograd`.")


def _where(name):
    """Where distribution `name` is installed, and how (PEP 610's direct_url.json)."""
    import json
    for dist in metadata.distributions(name=name):
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            direct = {}
        how = ", editable" if direct.get("dir_info", {}).get("editable") else ""
        url = urlparse(direct.get("url", ""))
        source = f", from {unquote(url.path)}" if url.scheme == "file" else ""
        return f"{dist.locate_file('')}{how}{source}"
    return None


def report():
    """(lines, ok): the report, and whether micrograd-c's C engine is loaded alone."""
    lines, ok = [], True
    lines.append(f"python:       {platform.python_implementation()} {platform.python_version()} "
                 f"({sys.executable})")
    ours_v, theirs_v = _version(DIST), _version(ORIGINAL)
    try:
        import micrograd.engine as engine
    except ImportError as e:                # e.g. `pip uninstall micrograd` took engine.py
        engine = None
        lines.append(f"engine:       cannot be imported: {e}")
    ours = hasattr(engine, "stats") and hasattr(engine, "_arena")
    if engine is None:
        ok = False
    elif ours:
        lines.append(f"engine:       micrograd-c {ours_v or '(not installed: a bare checkout)'}, "
                     "the C engine")
    else:
        ok = False
        lines.append(f"engine:       micrograd {theirs_v or '0.1.0'}'s pure-Python engine "
                     "(Karpathy's original: about 70x slower)")
    if engine is not None:
        lines.append(f"loaded from:  {engine.__file__}")
    try:
        from micrograd._mg import ffi, lib
        import micrograd._mg as mg
        info = ffi.string(lib.mg_build_info()).decode() if hasattr(lib, "mg_build_info") \
            else "unknown (built before micrograd-c 1.0.0)"
        lines.append(f"C extension:  {mg.__file__} (ABI {lib.mg_abi_version()})")
        lines.append(f"compiled by:  {info}")
        if hasattr(lib, "mg_kernels"):      # the lane kernels of Batch, for this CPU
            lines.append(f"kernels:      {ffi.string(lib.mg_kernels()).decode()} "
                         "(Batch's lanes; MG_KERNELS=baseline forces the baseline)")
            want = os.environ.get("MG_KERNELS")
            if want and want not in ("baseline", "avx2", "avx512"):
                lines.append(f"              MG_KERNELS={want!r} is none of baseline, avx2, "
                             "avx512: ignored")
    except ImportError as e:
        lines.append(f"C extension:  not importable ({e})")
    lines.append(f"micrograd-c:  {ours_v} in {_where(DIST)}" if ours_v else
                 "micrograd-c:  not installed")
    if theirs_v:
        ok = False
        lines.append(f"micrograd:    {theirs_v} (PyPI's original) ALSO installed, in "
                     f"{_where(ORIGINAL)}")
        lines.append("")
        lines.extend(coexistence_message(theirs_v).splitlines())
    else:
        lines.append("micrograd:    PyPI's original is not installed (good: no conflict)")
    if not ours and not theirs_v:
        lines.append("")
        lines.append(f"micrograd-c's files are missing or replaced; reinstall it: "
                     f"{reinstall_command()} --force-reinstall")
    if ok:
        lines.append("status:       ok")
    return lines, ok


def main():
    lines, ok = report()
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
