"""python -m micrograd.demo [moons]: micrograd's demo notebook as a program.

Trains MLP(2, [16, 16, 1]) on 100 two-moons points with the notebook's SVM
max-margin loss, L2 regularisation and decaying SGD, printing each step. Options
change the data, model and run; --fast trains the same model through a Batch (one
point's loss graph, built once, run over every point at once in C; micrograd.optim.SGD),
instead of the notebook's unchanged code, which rebuilds the graph every step; --plot
saves the decision boundary and the loss curve side by side in one PNG (matplotlib, the `viz` extra); --graph draws
one neuron's graph with data and grads (micrograd.viz: DOT text with no dependency,
or SVG/PNG/PDF through Graphviz); --compare runs a few steps of micrograd 0.1.0
on the same data and init and reports the speed ratio and whether the losses agree.
Not a benchmark harness (see benchmarks/) and not a data-loading tool.

One change from the notebook: the learning rate decays as 1.0 - 0.9*k/steps, so
it spans 1.0 .. 0.1 over any --steps; the notebook's k/100 for its 100 steps.
"""
import argparse
import random
import sys
import time

from micrograd.data import moons
from micrograd.demo import cli, original, plot as plots
from micrograd.demo.graph import check_graphviz, draw_neuron
from micrograd.engine import Batch, Value
from micrograd.nn import MLP
from micrograd.optim import SGD

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


# ---------------------------------------------------------------- --fast: one point's graph, all points

def train_fast(model, X, y, steps, horizon=None, on_step=None):
    """train(), through a micrograd.engine.Batch: the graph of one point's loss is built
    once (the notebook's max-margin term, plus its L2 term, which depends on no point and
    is computed once per step), and each step runs it over every point at once in C:
    batch.forward (the mean of the rows is the notebook's total loss), batch.backward
    (the mean's grads) and micrograd.optim.SGD, a call each. Same numbers as train() to
    the last bits (a mean summed in another order); same return. The seconds of step 0
    include building the graph."""
    t0 = time.perf_counter()
    x, label = [Value(0.0), Value(0.0)], Value(0.0)    # one point's leaves: its columns
    score = model(x)
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = (1 + -label*score).relu() + reg_loss   # the notebook's loss() for one point
    batch = Batch(total_loss, x + [label])
    rows = [[x0, x1, yi] for (x0, x1), yi in zip(X, y)]
    opt = SGD(model.parameters(), lr=learning_rate(0, horizon or steps))
    history = []
    for k in range(steps):
        if k:
            t0 = time.perf_counter()
        losses = batch.forward(rows)
        accuracy = [(yi > 0) == (si > 0) for yi, si in zip(y, batch.data([score]))]
        opt.zero_grad()
        batch.backward()
        opt.lr = learning_rate(k, horizon or steps)
        opt.step()
        history.append((sum(losses) / len(losses), sum(accuracy) / len(accuracy),
                        time.perf_counter() - t0))
        if on_step:
            on_step(k, *history[-1])
    return history


# ---------------------------------------------------------------- command line


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m micrograd.demo [moons]",
        description="Train an MLP on two moons, as micrograd's demo. The other example: "
        "python -m micrograd.demo digits --help.")
    p.add_argument("--steps", type=cli.int_at_least(1), default=100, help="SGD steps (100)")
    p.add_argument("--seed", type=cli.int_at_least(), default=1337,
                   help="seed of the data and the initial weights (1337)")
    p.add_argument("--samples", type=cli.int_at_least(2), default=100,
                   help="data points (100)")
    p.add_argument("--hidden", type=cli.sizes, default=[16, 16], metavar="SIZES",
                   help="hidden layer sizes, comma-separated (16,16)")
    p.add_argument("--activation", choices=["relu", "tanh", "sigmoid", "linear"],
                   default="relu", help="activation of the hidden layers (relu)")
    p.add_argument("--fast", action="store_true",
                   help="train through a Batch: one point's loss graph built once and run "
                   "over all the points each step (micrograd.engine.Batch, micrograd.optim.SGD, "
                   "fused neurons): the same model, the same losses, no graph rebuilt")
    p.add_argument("--plot", type=cli.png, metavar="FILE.png",
                   help="save one PNG with two panels side by side: the decision boundary "
                   "and the points (left), the training loss at each step (right); "
                   "needs matplotlib")
    p.add_argument("--graph", type=cli.graph_file, metavar="FILE.svg",
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
        plots.pyplot()                  # fail now, not after training
    if args.graph and args.graph.suffix.lower() != ".dot":
        check_graphviz(args.graph)
    X, y = moons(args.samples, noise=0.1, seed=args.seed)
    random.seed(args.seed)
    kwargs = {"fused": True} if args.fast else {}
    model = MLP(2, args.hidden + [1], activation=args.activation, **kwargs)
    print(f"two moons: {len(X)} points, noise 0.1, seed {args.seed}")
    print(f"model: MLP(2, {args.hidden + [1]}), {args.activation} hidden layers, "
          f"{len(model.parameters())} parameters"
          + (", fused neurons, one point's graph over the batch (--fast)" if args.fast else ""))

    every = max(1, args.steps // 100)

    def report(k, total, acc, seconds):
        if k % every == 0 or k == args.steps - 1:
            print(f"step {k:4d}  loss {total:.6f}  accuracy {acc*100:5.1f}%  "
                  f"{seconds*1e3:7.2f} ms", flush=True)

    history = (train_fast if args.fast else train)(model, X, y, args.steps, on_step=report)
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
        return original.compare(args, X, y, history, (loss, step, learning_rate, train))
    return 0


# ---------------------------------------------------------------- plot


def plot(model, X, y, losses, path, title="", h=0.1):
    """figure(...) saved as a PNG at path."""
    plots.save(figure(model, X, y, losses, title, h), path)


def figure(model, X, y, losses, title="", h=0.1):
    """Left, the notebook's figure: the points over the sign of the score on a grid (the
    boundary is the score's zero contour, linearly interpolated between grid points).
    Right, losses[k], the training loss at step k, against k."""
    plt = plots.pyplot()
    x0s, x1s = [x[0] for x in X], [x[1] for x in X]
    gx = plots.grid(min(x0s) - 1, max(x0s) + 1, h)
    gy = plots.grid(min(x1s) - 1, max(x1s) + 1, h)
    Z = [[model([Value(a), Value(b)]).data for a in gx] for b in gy]
    big = max(abs(z) for row in Z for z in row) + 1.0
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = [plt.cm.Spectral(0.0), plt.cm.Spectral(1.0)]          # class -1, class 1
    ax.contourf(gx, gy, Z, levels=[-big, 0.0, big], colors=colors, alpha=0.6)
    ax.scatter(x0s, x1s, c=[colors[yi > 0] for yi in y], s=40, edgecolors="k")
    ax.set_title(title)
    plots.curves(ax_loss, [(None, losses)], "step", "loss (max-margin + L2)", "training loss")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    cli.run(main)
