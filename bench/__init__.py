"""Parley benchmarks: ``bash scripts/bench`` (see ``bench/run.py``).

The benchmarks launch servers, coturn and Chromium with the test harness (tests/harness), so
that they run what the tests check; importing ``bench`` puts tests/ on ``sys.path`` for it.
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
