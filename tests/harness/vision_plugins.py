"""Test classifiers, loaded by a server through the public plug-in setting:

    server_factory(PARLEY_VISION_CLASSIFIER="harness.vision_plugins:fixed_positive",
                   PYTHONPATH=server_path())

(tests/ must be on the server's PYTHONPATH; the worker processes inherit it). Nothing in
``src/`` knows about these. Reused by the browser test of vision moderation.

- ``fixed_positive``: every still shows "exposed male genitalia" at 0.99 (the end-to-end path).
- ``never``: nothing is ever found.
- ``suspect``: every still shows "exposed male genitalia" at 0.3: under the action threshold
  (0.5), over half of it, so suspect: never clean, never acted on.
- ``gated``: finds nothing, but only once the file ``PARLEY_TEST_VISION_GATE`` exists (each still
  waits for it), so a test decides when the first clean verdict comes; ``gated_positive``: the
  same, then calls the still nude as ``fixed_positive`` does.
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


def server_path() -> str:
    """The PYTHONPATH of a server that loads these plug-ins: tests/, then the caller's own (the
    code under test, when it is not the installed one)."""
    own = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([str(TESTS_DIR), own]) if own else str(TESTS_DIR)


POSITIVE_LABEL = "MALE_GENITALIA_EXPOSED"


def exposed(score: float) -> list[Detection]:
    return [Detection(POSITIVE_LABEL, score, (10, 10, 40, 40))]


class Fixed:
    """Finds the same ``found`` in every still."""

    def __init__(self, name: str, found: list[Detection]) -> None:
        self.name = name
        self.found = found

    def load(self) -> None:
        pass

    def classify(self, jpeg: bytes) -> list[Detection]:
        return list(self.found)


class Gated(Fixed):
    """As ``Fixed``, once the gate file exists. A still waits at most ``most`` seconds for it,
    then is judged anyway (a forgotten gate must not hang a worker process past the test)."""

    most = 60.0

    def __init__(self, name: str, found: list[Detection]) -> None:
        super().__init__(name, found)
        self.gate = Path(os.environ["PARLEY_TEST_VISION_GATE"])

    def classify(self, jpeg: bytes) -> list[Detection]:
        deadline = time.monotonic() + self.most
        while not self.gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return super().classify(jpeg)


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


def fixed_positive() -> Fixed:
    return Fixed("test:fixed-positive", exposed(0.99))


def never() -> Fixed:
    return Fixed("test:never", [])


def suspect() -> Fixed:
    return Fixed("test:suspect", exposed(0.3))


def gated() -> Gated:
    return Gated("test:gated", [])


def gated_positive() -> Gated:
    return Gated("test:gated-positive", exposed(0.99))


def slow_recorder() -> SlowRecorder:
    return SlowRecorder()


def broken() -> Broken:
    return Broken()
