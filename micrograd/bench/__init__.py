"""`python -m micrograd.bench`: how fast micrograd-c trains on this machine, in about a minute.

A side-by-side of one training step (the demo's MLP(2, [16, 16, 1]) on 100 moons points,
and MLP(64, [64, 64, 10]) on a batch of 32): micrograd-c on your code unchanged (eager)
and on the fast path (a graph built once and replayed in C, optim.SGD), PyTorch's
nn.Linear on one thread if it is installed, micrograd 0.1.0 if you point at it with
--reference DIR. Each measurement is a fresh process (worker.py running scenarios.py,
the same steps as the checkout's benchmarks/), implementations interleaved round by
round; the table gives medians and ratios, and says what it could not measure and why.
Files: scenarios.py (the measured code), worker.py (one process), runner.py (processes,
rounds, the machine), cli.py (the command and its table).
Not here: the checkout's long benchmarks (benchmarks/, pytest-benchmark, RESULTS.md).
"""
