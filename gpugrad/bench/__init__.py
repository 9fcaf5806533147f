"""Benchmarks: gpugrad against NumPy by hand, PyTorch and JAX, with every gradient checked.

    python -m gpugrad.bench [linreg|overhead|mlp|cheapgrad|vmap|scaling|all]
        [--device cpu|cuda] [--json PATH]

Suites (each module's docstring says what it measures and how to reproduce it):

- ``linreg``: one full-batch gradient of mean((X w - y)^2), against a copy of X's bandwidth.
- ``overhead``: microseconds per op of forward and backward through a chain of tiny tensors.
- ``mlp``: one SGD step of a 784-256-256-10 tanh MLP with cross-entropy.
- ``cheapgrad``: time(value and gradient) / time(value) for the linreg and mlp losses.
- ``scaling``: how time and peak memory grow with linreg's N and d, the overhead chain's length
  and the MLP's batch, with each row's log-log slope; ``--plot PATH.png`` draws the curves.

Every table shows median, min and max over interleaved rounds, the ratio to a hand-written
NumPy (CuPy on cuda) reference timed in the same run, and each gradient's relative error against
the reference's; a gradient beyond the dtype's tolerance is flagged WRONG and the run exits 1.
PyTorch and JAX rows appear when they are installed (``pip install -e ".[bench]"``).
"""
