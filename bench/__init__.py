"""Parley benchmarks: ``bash scripts/bench`` (see ``bench/run.py``)."""
