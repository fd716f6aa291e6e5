"""matplotlib for the demos: imported only when a plot is asked for (it is optional, the
`viz` extra), drawn off-screen (Agg), and the panels the examples share. Not a plotting
library: each example lays out its own figure.
"""
import sys


def pyplot():
    """matplotlib.pyplot on the Agg backend, or exit with what to install."""
    try:
        import matplotlib
    except ImportError:
        sys.exit("error: --plot needs matplotlib: pip install matplotlib "
                 "(or install this package with its viz extra: pip install 'micrograd-c[viz]')")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, path):
    """Write fig as a PNG at path, and free it."""
    plt = pyplot()
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def curves(ax, series, xlabel, ylabel, title, start=0):
    """One line per (label, ys) in series, against start, start + 1, ...; a legend if any
    is labelled."""
    for label, ys in series:
        ax.plot(range(start, start + len(ys)), ys, label=label,
                marker="." if len(ys) < 30 else None)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(label for label, _ in series):
        ax.legend()


def grid(lo, hi, h):
    """lo, lo + h, ... up to hi: the points of a decision-boundary grid along one axis."""
    return [lo + i * h for i in range(int((hi - lo) / h) + 1)]
