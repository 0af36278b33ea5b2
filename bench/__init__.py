"""Benchmarks for digest: send throughput against smtp-sink, dry runs, rendering, memory,
imports and rate-limit accuracy. ``bench/run`` runs them all (``--quick`` for CI); each
module also runs on its own, e.g. ``python -m bench.send --help``. Results: bench/RESULTS.md.
"""
