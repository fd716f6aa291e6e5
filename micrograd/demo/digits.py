"""python -m micrograd.demo digits: an MLP learns scikit-learn's 8x8 handwritten digits.

The 1797 images that ship inside scikit-learn (no download), pixels 0..16 scaled to
0..1, split by a fixed seed into training and held-out images. MLP(64, [32, 10],
fused=True) (or --hidden's sizes) learns with Adam on minibatches of cross-entropy
through a micrograd.engine.Batch: the graph of one image is built once (pixel leaves,
a leaf holding the class index, the logits, the cross-entropy that picks the label's
logit), and each minibatch is its rows run over that graph in C (batch.forward on a
numpy array of pixels and labels: every image a lane of every node), one batch.backward
(the mean over the images) and one Adam step: a handful of calls into C per minibatch,
none per node or image. The same Batch, fed all the images at once,
measures the training and held-out accuracy after each epoch.
Needs the `data` extra (scikit-learn, numpy); --plot needs matplotlib. Not a data
loader and not scikit-learn's classifier: only the images come from scikit-learn.
"""
import argparse
import random
import sys
import time

from micrograd.demo import cli, plot as plots
from micrograd.engine import Batch, Value
from micrograd.losses import cross_entropy
from micrograd.nn import MLP, save
from micrograd.optim import Adam

try:
    import numpy as np
except ImportError:         # the data extra is missing: main() says what to install
    np = None

INSTALL = "pip install 'micrograd-c[data]'"
CLASSES = 10


def data(test_fraction=0.2, seed=1337, samples=None):
    """(X_train, y_train, X_test, y_test): float64 rows of 64 pixels in [0, 1] and int
    labels, split by a numpy generator seeded with seed; samples: use only that many
    images (a random subset), all 1797 by default."""
    digits = _needs_data()()
    X, y = digits.data / 16.0, digits.target
    order = np.random.default_rng(seed).permutation(len(X))[:samples]
    n_test = round(len(order) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def _needs_data():
    """sklearn.datasets.load_digits, or exit with what to install."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        load_digits = None
    if np is None or load_digits is None:
        sys.exit(f"error: the digits example needs scikit-learn and numpy: {INSTALL}")
    return load_digits


# ---------------------------------------------------------------- one image's graph, over a batch


class BatchModel:
    """One image's graph, built once and run over every image of a batch (a Batch): 64
    pixel leaves and a label leaf (the class index), the logits, the cross-entropy.
    run(X, y) puts n images and their labels in the Batch's columns; the mean loss over
    the rows is what batch.backward() differentiates. Any n, call by call: accuracy()
    runs all the images at once."""

    def __init__(self, model, nin=64, threads=None):
        self.x = [Value(0.0) for _ in range(nin)]
        self.t = Value(0)               # the label: a class index, a column of the batch
        self.logits = model(self.x)
        self.loss = cross_entropy(self.logits, self.t)     # picks logits[t] on every row
        self.batch = Batch(self.loss, self.x + [self.t], threads=threads)

    def run(self, X, y):
        """Forward on images X (n x 64) with labels y: (the mean loss, the predicted classes)."""
        losses = self.batch.forward(np.column_stack([X, y.astype(np.float64)]))
        scores = self.batch.data(self.logits, out=np.empty((len(X), CLASSES)))
        return sum(losses) / len(losses), scores.argmax(axis=1)

    def accuracy(self, X, y):
        """The fraction of images in X whose class the model gets right."""
        return (self.run(X, y)[1] == y).mean()


def train(model, graph, data, epochs, lr, seed, batch_size, on_epoch=None):
    """Adam on shuffled minibatches of batch_size images through graph, a BatchModel (the
    last incomplete one of each epoch left out), its rate decaying linearly from lr to lr/10;
    [(mean training loss, training accuracy, held-out accuracy, seconds)] per epoch,
    on_epoch(epoch, *that) after each, outside the timing."""
    X, y, X_test, y_test = data
    opt = Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    steps = len(X) // batch_size
    history = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        opt.lr = lr * (1.0 - 0.9 * epoch / epochs)
        order = rng.permutation(len(X))
        total = 0.0
        for k in cli.progress(range(steps), steps, f"epoch {epoch + 1}/{epochs}"):
            batch = order[k * batch_size:(k + 1) * batch_size]
            loss, _ = graph.run(X[batch], y[batch])
            opt.zero_grad()
            graph.batch.backward()          # the mean over the batch's images
            opt.step()
            total += loss
        history.append((total / steps, graph.accuracy(X, y), graph.accuracy(X_test, y_test),
                        time.perf_counter() - t0))
        if on_epoch:
            on_epoch(epoch, *history[-1])
    return history


# ---------------------------------------------------------------- command line


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m micrograd.demo digits",
        description="Train an MLP on scikit-learn's 8x8 handwritten digits, in minibatches "
        f"through one image's graph run over each batch. Needs scikit-learn and numpy: {INSTALL}.")
    p.add_argument("--epochs", type=cli.int_at_least(1), default=20,
                   help="passes over the training images (20)")
    p.add_argument("--batch-size", type=cli.int_at_least(1), default=32,
                   help="images per Adam step (32)")
    p.add_argument("--lr", type=cli.float_in(0, 10), default=0.01,
                   help="Adam's learning rate at the start; it decays linearly to a tenth "
                   "of it over the epochs (0.01)")
    p.add_argument("--hidden", type=cli.sizes, default=[32], metavar="SIZES",
                   help="hidden layer sizes, comma-separated (32)")
    p.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default="relu",
                   help="activation of the hidden layers (relu)")
    p.add_argument("--seed", type=cli.int_at_least(), default=1337,
                   help="seed of the split, the initial weights and the batches (1337)")
    p.add_argument("--held-out", type=cli.float_in(0, 1), default=0.2, metavar="FRACTION",
                   help="fraction of the images held out of training, to measure (0.2)")
    p.add_argument("--samples", type=cli.int_at_least(20), metavar="N",
                   help="use only N of the 1797 images, chosen at random (all)")
    p.add_argument("--plot", type=cli.png, metavar="FILE.png",
                   help="save the training loss and the accuracies at each epoch in one "
                   "PNG; needs matplotlib")
    p.add_argument("--save", type=cli.writable_file, metavar="FILE.json",
                   help="save the trained model (micrograd.nn.save: JSON, exact floats)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    _needs_data()
    if args.plot:
        plots.pyplot()                  # fail now, not after training
    split = data(args.held_out, args.seed, args.samples)
    if not len(split[2]):
        sys.exit(f"error: --held-out {args.held_out:g} of {len(split[0])} images holds none out")
    if len(split[0]) < args.batch_size:
        sys.exit(f"error: --batch-size {args.batch_size} is more than the "
                 f"{len(split[0])} training images")
    random.seed(args.seed)
    model = MLP(64, args.hidden + [CLASSES], activation=args.activation, fused=True)
    print(f"digits: {len(split[0]) + len(split[2])} images of 8x8 pixels, "
          f"{len(split[0])} for training, {len(split[2])} held out (seed {args.seed})")
    print(f"model: MLP(64, {args.hidden + [CLASSES]}), {args.activation} hidden layers, "
          f"{len(model.parameters())} parameters, fused neurons; Adam lr {args.lr:g}, "
          f"batches of {args.batch_size} through one image's graph (Batch)")

    def report(epoch, loss, train_acc, test_acc, seconds):
        print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {loss:.6f}  train {train_acc*100:5.1f}%"
              f"  held-out {test_acc*100:5.1f}%  {seconds:6.2f} s", flush=True)

    t0 = time.perf_counter()
    graph = BatchModel(model)
    built = time.perf_counter() - t0
    history = train(model, graph, split, args.epochs, args.lr, args.seed, args.batch_size, report)
    seconds = time.perf_counter() - t0
    print(f"done: {args.epochs} epochs in {seconds:.2f} s (one image's graph built once in "
          f"{built:.2f} s, then {sum(h[3] for h in history) / args.epochs:.3f} s/epoch with "
          f"the accuracies); held-out accuracy {history[-1][2]*100:.1f}%")
    if args.plot:
        try:
            plot(history, args.plot, f"MLP(64, {args.hidden + [CLASSES]}) on 8x8 digits")
        except OSError as e:
            sys.exit(f"error: could not write {args.plot}: {e}")
        print(f"loss and accuracy curves saved to {args.plot}")
    if args.save:
        try:
            save(model, args.save)
        except OSError as e:
            sys.exit(f"error: could not write {args.save}: {e}")
        print(f"model saved to {args.save}")
    return 0


def plot(history, path, title=""):
    """Left, the mean training loss of each epoch; right, the training and held-out
    accuracy after each epoch."""
    plt = plots.pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    plots.curves(ax_loss, [(None, [h[0] for h in history])], "epoch",
                 "mean cross-entropy of the batches", f"{title}: training loss", start=1)
    plots.curves(ax_acc, [("training", [h[1] * 100 for h in history]),
                          ("held-out", [h[2] * 100 for h in history])],
                 "epoch", "accuracy (%)", "accuracy after each epoch", start=1)
    fig.tight_layout()
    plots.save(fig, path)


if __name__ == "__main__":
    cli.run(main)
