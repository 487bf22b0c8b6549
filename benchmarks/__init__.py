"""Benchmarks of tinygraph against hand-written numpy and PyTorch: ``python -m benchmarks``.

Layout:

* ``workloads.py``: what is measured, as plain numpy data from fixed seeds;
* ``engines/``: one module per engine, each doing the same work from the same data;
* ``check.py``: every engine's gradients against hand-written numpy's, before timing;
* ``timing.py``: round-robin interleaved timing and its statistics;
* ``rows.py``: one function per row of the table; ``child.py``: the measurements
  that run in a process of their own (peak memory, the longest chain, rendering);
* ``machine.py``: CPU, BLAS and thread settings; ``report.py``: the markdown;
* ``profiling.py``: cProfile of tinygraph on one row, for finding where time goes.

docs/performance.md has the command, the machine and a real run's table.
"""
