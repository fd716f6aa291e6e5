"""The demos, one module per example, run as python -m micrograd.demo [moons|digits]:

    moons.py     micrograd's demo notebook: an MLP on two moons (the default example)
    digits.py    an MLP on scikit-learn's 8x8 handwritten digits, in minibatches
    cli.py       what their command lines share: argument types, a progress bar
    plot.py      what their plots share (matplotlib, optional)
    graph.py     --graph: one neuron's graph with its data and grads (micrograd.viz)
    original.py  --compare: moons' notebook code run under micrograd 0.1.0

Not part of the library: nothing in micrograd imports this package.
"""
