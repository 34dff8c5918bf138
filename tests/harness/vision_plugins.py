"""Test classifiers, loaded by a server through the public plug-in setting:

    server_factory(PARLEY_VISION_CLASSIFIER="harness.vision_plugins:fixed_positive",
                   PYTHONPATH=str(TESTS_DIR))

(tests/ must be on the server's PYTHONPATH; the worker processes inherit it). Nothing in
``src/`` knows about these. Reused by the browser test of vision moderation.

- ``fixed_positive``: every still shows "exposed male genitalia" at 0.99 (the end-to-end path).
- ``never``: nothing is ever found.
- ``slow_recorder``: takes ``PARLEY_TEST_VISION_DELAY`` seconds (default 0.5) per still, finds
  nothing, and appends the SHA-256 of each still it classified to ``PARLEY_TEST_VISION_LOG``, so
  a test can tell which stills were dropped under overload.
- ``broken``: cannot load (as when the model is missing).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from parley.safety.classifier import ClassifierError, Detection

TESTS_DIR = Path(__file__).resolve().parents[1]  # tests/, put on a server's PYTHONPATH
POSITIVE_LABEL = "MALE_GENITALIA_EXPOSED"


class FixedPositive:
    name = "test:fixed-positive"

    def load(self) -> None:
        pass

    def classify(self, jpeg: bytes) -> list[Detection]:
        return [Detection(POSITIVE_LABEL, 0.99, (10, 10, 40, 40))]


class Never:
    name = "test:never"

    def load(self) -> None:
        pass

    def classify(self, jpeg: bytes) -> list[Detection]:
        return []


class SlowRecorder:
    name = "test:slow-recorder"

    def __init__(self) -> None:
        self.delay = float(os.environ.get("PARLEY_TEST_VISION_DELAY", "0.5"))
        self.log = os.environ.get("PARLEY_TEST_VISION_LOG", "")

    def load(self) -> None:
        pass

    def classify(self, jpeg: bytes) -> list[Detection]:
        time.sleep(self.delay)
        if self.log:
            with open(self.log, "a", encoding="ascii") as f:
                f.write(hashlib.sha256(jpeg).hexdigest() + "\n")
        return []


class Broken:
    name = "test:broken"

    def load(self) -> None:
        raise ClassifierError("model file missing (test)")

    def classify(self, jpeg: bytes) -> list[Detection]:
        raise AssertionError("never loaded")


def fixed_positive() -> FixedPositive:
    return FixedPositive()


def never() -> Never:
    return Never()


def slow_recorder() -> SlowRecorder:
    return SlowRecorder()


def broken() -> Broken:
    return Broken()
