"""python -m micrograd.demo: micrograd's demo notebook as a program.

Trains MLP(2, [16, 16, 1]) on 100 two-moons points with the notebook's SVM
max-margin loss, L2 regularisation and decaying SGD, printing each step. Options
change the data, model and run; --plot saves the decision boundary and the loss
curve side by side in one PNG (matplotlib, the `viz` extra); --graph draws one
neuron's graph with data and grads (micrograd.viz: DOT text with no dependency,
or SVG/PNG/PDF through Graphviz); --compare runs a few steps of micrograd 0.1.0
on the same data and init and reports the speed ratio and whether the losses agree.
Not a benchmark harness (see benchmarks/) and not a data-loading tool.

One change from the notebook: the learning rate decays as 1.0 - 0.9*k/steps, so
it spans 1.0 .. 0.1 over any --steps; the notebook's k/100 for its 100 steps.
"""
import argparse
import inspect
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from micrograd.data import moons
from micrograd.engine import Value
from micrograd.nn import MLP
from micrograd.viz import draw_dot, to_dot

# ---------------------------------------------------------------- the notebook's training
# These four functions use only micrograd 0.1.0's API and the globals Value, MLP,
# time: --compare and the tests run their source, unchanged, under the original.


def loss(model, X, y):
    """The notebook's loss(): (SVM max-margin loss + L2, accuracy) over the whole batch."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return total_loss, sum(accuracy) / len(accuracy)


def step(model, X, y, learning_rate):
    """One optimisation step: forward, zero_grad, backward, SGD. (loss, accuracy) before it."""
    total_loss, acc = loss(model, X, y)
    model.zero_grad()
    total_loss.backward()
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data, acc


def learning_rate(k, steps):
    return 1.0 - 0.9*k/steps


def train(model, X, y, steps, horizon=None, on_step=None):
    """`steps` steps of step(); [(loss, accuracy, seconds)], one per step.

    horizon: the run length the learning rate decays over (default: steps).
    on_step(k, loss, accuracy, seconds) is called after each step, outside the timing.
    """
    history = []
    for k in range(steps):
        t0 = time.perf_counter()
        total, acc = step(model, X, y, learning_rate(k, horizon or steps))
        history.append((total, acc, time.perf_counter() - t0))
        if on_step:
            on_step(k, *history[-1])
    return history


# ---------------------------------------------------------------- micrograd 0.1.0

ORACLE_DIRS = [Path(__file__).resolve().parents[1] / ".oracle" / "micrograd-0.1.0",
               Path.cwd() / ".oracle" / "micrograd-0.1.0"]

_PROBE = """import micrograd.engine, micrograd.nn
assert not hasattr(micrograd.engine, "stats"), "this is micrograd-c, not the original"
try:
    from importlib.metadata import version
    result = version("micrograd")
except Exception:
    result = "unknown version"
"""


def original_program(X, y, seed, hidden, steps, horizon=None, gc_enabled=True):
    """Python source that trains MLP(2, hidden + [1]) under whatever micrograd it imports
    and assigns result = {'losses', 'accuracies', 'seconds', 'repr', 'nparams'}."""
    funcs = "\n\n".join(inspect.getsource(f) for f in (loss, step, learning_rate, train))
    return f"""import gc, random, time
from micrograd.engine import Value
from micrograd.nn import MLP
{'' if gc_enabled else 'gc.disable()'}
{funcs}
X, y = {X!r}, {y!r}
random.seed({seed!r})
model = MLP(2, {list(hidden) + [1]!r})
history = train(model, X, y, {steps!r}, {horizon!r})
result = {{"losses": [h[0] for h in history], "accuracies": [h[1] for h in history],
          "seconds": [h[2] for h in history], "repr": repr(model),
          "nparams": len(model.parameters())}}
"""


def run_in(path, code, timeout=600):
    """Run `code` (which assigns `result`) in a subprocess with `path` first on sys.path
    (None: the interpreter's own path, from /); result comes back through JSON."""
    prefix = "" if path is None else f"sys.path.insert(0, {str(path)!r})\n"
    prog = f"import sys, json\n{prefix}{code}\nprint(json.dumps(result))\n"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                         timeout=timeout, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def original_paths():
    """The folders find_original tries before the installed packages: MICROGRAD_ORIGINAL
    (the folder that holds micrograd/, or micrograd/ itself), then the .oracle folders."""
    env = os.environ.get("MICROGRAD_ORIGINAL")
    paths = []
    if env:
        path = Path(env).expanduser().resolve()
        paths.append(path.parent if path.name == "micrograd" and (path / "nn.py").exists()
                     else path)
    return list(dict.fromkeys(paths + ORACLE_DIRS))     # one entry per folder


def find_original():
    """(sys.path entry or None, version) of an importable micrograd 0.1.0, else (None, None)."""
    for path in original_paths() + [None]:
        if path is not None and not (path / "micrograd" / "nn.py").exists():
            continue
        try:
            return path, run_in(path, _PROBE, timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            continue
    return None, None


# ---------------------------------------------------------------- command line

def _int_at_least(lo=None):
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if lo is not None and n < lo:
            raise argparse.ArgumentTypeError(f"{n} is below the minimum, {lo}")
        return n
    return parse


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of layer sizes, e.g. 16,16") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


GRAPH_FORMATS = (".dot", ".svg", ".png", ".pdf")


def _graph_file(text):
    path = Path(text)
    if path.suffix.lower() not in GRAPH_FORMATS:
        raise argparse.ArgumentTypeError(
            f"{text!r} does not end in one of {', '.join(GRAPH_FORMATS)}")
    return _writable(path)


def _png(text):
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r} does not end in .png")
    return _writable(path)


def _writable(path):
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"directory {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"directory {str(path.parent)!r} is not writable")
    return path


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m micrograd.demo",
                                description="Train an MLP on two moons, as micrograd's demo.")
    p.add_argument("--steps", type=_int_at_least(1), default=100, help="SGD steps (100)")
    p.add_argument("--seed", type=_int_at_least(), default=1337,
                   help="seed of the data and the initial weights (1337)")
    p.add_argument("--samples", type=_int_at_least(2), default=100, help="data points (100)")
    p.add_argument("--hidden", type=_sizes, default=[16, 16], metavar="SIZES",
                   help="hidden layer sizes, comma-separated (16,16)")
    p.add_argument("--activation", choices=["relu", "tanh", "sigmoid", "linear"],
                   default="relu", help="activation of the hidden layers (relu)")
    p.add_argument("--plot", type=_png, metavar="FILE.png",
                   help="save one PNG with two panels side by side: the decision boundary "
                   "and the points (left), the training loss at each step (right); "
                   "needs matplotlib")
    p.add_argument("--graph", type=_graph_file, metavar="FILE.svg",
                   help="after training, draw the first hidden neuron applied to the first "
                   "point that it does not map to 0, after one backward step (data and "
                   "grad in every node); the extension picks the format: .svg, .png, .pdf "
                   "(need the graphviz package and the Graphviz 'dot' program) or .dot "
                   "(DOT source, needs nothing)")
    p.add_argument("--compare", action="store_true",
                   help="also run a few steps of micrograd 0.1.0: speed ratio, same losses?")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.plot:
        _pyplot()                       # fail now, not after training
    if args.graph and args.graph.suffix.lower() != ".dot":
        _graphviz(args.graph)
    X, y = moons(args.samples, noise=0.1, seed=args.seed)
    random.seed(args.seed)
    model = MLP(2, args.hidden + [1], activation=args.activation)
    print(f"two moons: {len(X)} points, noise 0.1, seed {args.seed}")
    print(f"model: MLP(2, {args.hidden + [1]}), {args.activation} hidden layers, "
          f"{len(model.parameters())} parameters")

    every = max(1, args.steps // 100)

    def report(k, total, acc, seconds):
        if k % every == 0 or k == args.steps - 1:
            print(f"step {k:4d}  loss {total:.6f}  accuracy {acc*100:5.1f}%  "
                  f"{seconds*1e3:7.2f} ms", flush=True)

    history = train(model, X, y, args.steps, on_step=report)
    seconds = max(sum(h[2] for h in history), 1e-9)
    total, acc = loss(model, X, y)
    print(f"done: {args.steps} steps in {seconds:.2f} s ({args.steps/seconds:.1f} steps/s, "
          f"{seconds/args.steps*1e3:.2f} ms/step); trained model: loss {total.data:.6f}, "
          f"accuracy {acc*100:.1f}%")
    if args.plot:
        try:
            plot(model, X, y, [h[0] for h in history], args.plot,
                 f"MLP(2, {args.hidden + [1]}), {args.activation}, "
                 f"{args.steps} steps: accuracy {acc*100:.1f}%")
        except OSError as e:
            sys.exit(f"error: could not write {args.plot}: {e}")
        print(f"decision boundary and loss curve saved to {args.plot}")
    if args.graph:
        try:
            k = draw_neuron(model, X, args.graph)
        except OSError as e:
            sys.exit(f"error: could not write {args.graph}: {e}")
        point = ", ".join(f"{v:.4f}" for v in X[k])
        print(f"graph of the first hidden neuron on point {k} ({point}), after one backward "
              f"step, saved to {args.graph}")
    if args.compare:
        return compare(args, X, y, history)
    return 0


def compare(args, X, y, history, n=3, tol=1e-9):
    """Run the first n steps under micrograd 0.1.0; 0 if its losses agree with ours, else 1."""
    if args.activation != "relu":
        print(f"compare: skipped, micrograd 0.1.0 has no {args.activation} neurons")
        return 0
    path, version = find_original()
    if version is None:
        tried = ", ".join(str(p) for p in original_paths())
        print(f"compare: skipped, micrograd 0.1.0 not found in {tried}, nor installed (make "
              "test installs it in .oracle/micrograd-0.1.0; or set MICROGRAD_ORIGINAL to the "
              "folder that holds its micrograd/, or to micrograd/ itself)")
        return 0
    n = min(n, args.steps)
    print(f"compare: {n} steps of micrograd {version} ({path or 'installed'}), "
          f"same data and init, its gc on ...", flush=True)
    try:
        theirs = run_in(path, original_program(X, y, args.seed, args.hidden, n, args.steps))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"compare: micrograd {version} failed: {e}")
        return 1
    ours_ms = sum(h[2] for h in history[:n]) / n * 1e3
    theirs_ms = sum(theirs["seconds"]) / n * 1e3
    diff = max(abs(h[0] - t) for h, t in zip(history, theirs["losses"]))
    same_acc = [h[1] for h in history[:n]] == theirs["accuracies"]
    agree = diff <= tol and same_acc
    print(f"  micrograd {version}: {theirs_ms:.1f} ms/step, this package: {ours_ms:.2f} ms/step"
          f" (first {n} steps): {theirs_ms/ours_ms:.1f}x faster")
    print(f"  losses agree within {tol:g}: {'yes' if diff <= tol else 'NO'} "
          f"(max difference {diff:.3g}); accuracies equal: {'yes' if same_acc else 'NO'}")
    return 0 if agree else 1


# ---------------------------------------------------------------- plot

def _pyplot():
    try:
        import matplotlib
    except ImportError:
        sys.exit("error: --plot needs matplotlib: pip install matplotlib "
                 "(or install this package with its viz extra: pip install 'micrograd-c[viz]')")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot(model, X, y, losses, path, title="", h=0.1):
    """figure(...) saved as a PNG at path."""
    plt = _pyplot()
    fig = figure(model, X, y, losses, title, h)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def figure(model, X, y, losses, title="", h=0.1):
    """Left, the notebook's figure: the points over the sign of the score on a grid (the
    boundary is the score's zero contour, linearly interpolated between grid points).
    Right, losses[k], the training loss at step k, against k."""
    plt = _pyplot()
    x0s, x1s = [x[0] for x in X], [x[1] for x in X]
    gx = _grid(min(x0s) - 1, max(x0s) + 1, h)
    gy = _grid(min(x1s) - 1, max(x1s) + 1, h)
    Z = [[model([Value(a), Value(b)]).data for a in gx] for b in gy]
    big = max(abs(z) for row in Z for z in row) + 1.0
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = [plt.cm.Spectral(0.0), plt.cm.Spectral(1.0)]          # class -1, class 1
    ax.contourf(gx, gy, Z, levels=[-big, 0.0, big], colors=colors, alpha=0.6)
    ax.scatter(x0s, x1s, c=[colors[yi > 0] for yi in y], s=40, edgecolors="k")
    ax.set_title(title)
    ax_loss.plot(range(len(losses)), losses, marker="." if len(losses) < 30 else None)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (max-margin + L2)")
    ax_loss.set_title("training loss")
    ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _grid(lo, hi, h):
    return [lo + i * h for i in range(int((hi - lo) / h) + 1)]


# ---------------------------------------------------------------- graph

def _graphviz(path):
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
        _graphviz(path)
    except graphviz.CalledProcessError as e:
        sys.exit(f"error: Graphviz's dot failed to render {path}: {e}")
    return k


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted")
