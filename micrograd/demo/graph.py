"""--graph: one neuron of a trained MLP, drawn with its data and grads (micrograd.viz).
DOT source needs nothing; SVG, PNG and PDF need the graphviz package and Graphviz's
`dot` program, and check_graphviz says which is missing before any training.
Not a general graph tool: micrograd.viz is.
"""
import shutil
import sys

from micrograd.engine import Value
from micrograd.viz import draw_dot, to_dot


def check_graphviz(path):
    """Exit with what to install unless the graphviz package and `dot` are both there."""
    missing = []
    try:
        import graphviz  # noqa: F401
    except ImportError:
        missing.append("the graphviz Python package: pip install graphviz (or install this "
                       "package with its viz extra: pip install 'micrograd-c[viz]')")
    if shutil.which("dot") is None:
        missing.append("the Graphviz 'dot' program, from your system's package: "
                       "apt install graphviz")
    if missing:
        sys.exit(f"error: --graph {path} needs {', and '.join(missing)}; "
                 "or write the DOT source, which needs neither, with --graph FILE.dot")


def neuron_graph(model, X):
    """The first hidden neuron after one backward step from its output, on the first point
    of X where that output is nonzero, so grads flow back (X[0] if there is none: a dead
    ReLU). Its grads are zeroed first, so they are this step's alone. Inputs, weights,
    bias and output are labelled x1.., w1.., b, out. Returns (point index, output)."""
    neuron = model.layers[0].neurons[0]
    k = next((k for k, x in enumerate(X) if neuron(list(map(Value, x))).data != 0), 0)
    neuron.zero_grad()
    xs = [Value(xi, label=f"x{i}") for i, xi in enumerate(X[k], 1)]
    for i, w in enumerate(neuron.w, 1):
        w.label = f"w{i}"
    neuron.b.label = "b"
    out = neuron(xs)
    out.label = "out"
    out.backward()
    return k, out


def draw_neuron(model, X, path):
    """Write neuron_graph(model, X) to path: DOT source for .dot, else rendered by `dot`.
    Returns the index of the point drawn."""
    k, out = neuron_graph(model, X)
    fmt = path.suffix.lower()[1:]
    if fmt == "dot":
        path.write_text(to_dot(out))
        return k
    import graphviz
    try:
        path.write_bytes(draw_dot(out, format=fmt).pipe())
    except graphviz.ExecutableNotFound:
        check_graphviz(path)
    except graphviz.CalledProcessError as e:
        sys.exit(f"error: Graphviz's dot failed to render {path}: {e}")
    return k
