"""The command line the demos share: argument types that turn bad values into usage
errors (exit 2, no traceback), a progress bar, and the entry point's error handling.
Not an argument framework: each example builds its own argparse parser from these.
"""
import argparse
import os
import sys
import time
from pathlib import Path

# ---------------------------------------------------------------- argument types


def int_at_least(lo=None):
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if lo is not None and n < lo:
            raise argparse.ArgumentTypeError(f"{n} is below the minimum, {lo}")
        return n
    return parse


def float_in(lo, hi):
    """A float in the open interval (lo, hi)."""
    def parse(text):
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not lo < x < hi:
            raise argparse.ArgumentTypeError(f"{text} is not between {lo:g} and {hi:g}")
        return x
    return parse


def sizes(text):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of layer sizes, e.g. 16,16") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


GRAPH_FORMATS = (".dot", ".svg", ".png", ".pdf")


def graph_file(text):
    path = Path(text)
    if path.suffix.lower() not in GRAPH_FORMATS:
        raise argparse.ArgumentTypeError(
            f"{text!r} does not end in one of {', '.join(GRAPH_FORMATS)}")
    return writable(path)


def png(text):
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r} does not end in .png")
    return writable(path)


def writable_file(text):
    return writable(Path(text))


def writable(path):
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"directory {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"directory {str(path.parent)!r} is not writable")
    return path


# ---------------------------------------------------------------- progress


def progress(iterable, total, desc):
    """iterable, showing a progress bar on stderr while it is consumed: tqdm's if tqdm
    is installed, else a small one of our own, drawn only on a terminal (not in logs)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _bar(iterable, total, desc) if sys.stderr.isatty() else iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr)


def _bar(iterable, total, desc, width=30, every=0.1):
    shown, t0 = 0.0, time.perf_counter()
    for k, item in enumerate(iterable, 1):
        yield item
        now = time.perf_counter()
        if now - shown >= every or k == total:
            done = width * k // total
            sys.stderr.write(f"\r{desc} [{'#' * done}{'.' * (width - done)}] {k}/{total} "
                             f"{now - t0:.1f}s")
            sys.stderr.flush()
            shown = now
    sys.stderr.write("\r" + " " * (len(desc) + width + 30) + "\r")   # leave no trace
    sys.stderr.flush()


# ---------------------------------------------------------------- entry point


def run(main):
    """sys.exit(main()), and Ctrl-C ends it with a word instead of a traceback."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted")
