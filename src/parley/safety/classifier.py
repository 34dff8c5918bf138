"""The image classifier behind vision moderation: a small interface, nudenet, and plug-ins.

An operator picks one with ``PARLEY_VISION_CLASSIFIER``: ``nudenet`` (the default, the optional
``parley[vision]`` extra) or ``package.module:factory``, where ``factory()`` returns an object
with ``load()`` and ``classify(jpeg) -> list[Detection]`` (another model, or a vendor API).
The classifier runs in worker processes (:mod:`parley.safety.vision`), never on the event loop.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

DEFAULT_CLASSIFIER = "nudenet"


@dataclass(frozen=True, slots=True)
class Detection:
    """One thing found in a still: a class label, a score in 0..1, and a box (x, y, w, h) px."""

    label: str
    score: float
    box: tuple[int, int, int, int]


class ClassifierError(Exception):
    """The classifier cannot be loaded (extra not installed, bad plug-in) or cannot read a
    frame. The message says which, for the operator's log."""


class UnreadableImage(ClassifierError):
    """The bytes are not an image the classifier can decode."""


@runtime_checkable
class Classifier(Protocol):
    """What vision moderation needs from a model. ``load`` runs once per worker process."""

    name: str

    def load(self) -> None: ...

    def classify(self, jpeg: bytes) -> list[Detection]: ...


class NudeNetClassifier:
    """nudenet's ``NudeDetector`` with its bundled ``320n.onnx`` on onnxruntime, one thread.

    The library is used as made (its pre- and post-processing and labels); only its ONNX session
    is re-made with one intra-op thread, because the pool runs one worker per core and
    onnxruntime's default of a thread per core per worker makes them fight (measured: 3x slower).
    """

    name = "nudenet"

    def __init__(self) -> None:
        self._detector: Any = None
        self._cv2: Any = None
        self._np: Any = None

    def load(self) -> None:
        try:
            import cv2
            import numpy as np
            import onnxruntime
            from nudenet import NudeDetector
        except ImportError as exc:
            raise ClassifierError(
                f"nudenet is not installed ({exc.name}): pip install 'parley[vision]'"
            ) from exc
        detector = NudeDetector()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        model = Path(importlib.import_module("nudenet").__file__ or "").parent / "320n.onnx"
        detector.onnx_session = onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._detector, self._cv2, self._np = detector, cv2, np

    def classify(self, jpeg: bytes) -> list[Detection]:
        if self._detector is None:
            raise ClassifierError("classify() before load()")
        cv2, np = self._cv2, self._np
        # Decode to 3-channel BGR here: NudeDetector's own bytes path keeps a grey JPEG at one
        # channel, which its colour conversion then rejects.
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise UnreadableImage("not a decodable image")
        found = self._detector.detect(image)
        return [
            Detection(
                label=str(d["class"]),
                score=float(d["score"]),
                box=(int(d["box"][0]), int(d["box"][1]), int(d["box"][2]), int(d["box"][3])),
            )
            for d in found
        ]


def make_classifier(spec: str) -> Classifier:
    """The classifier named by ``spec`` (not loaded yet): ``nudenet`` or ``module:factory``."""
    spec = spec.strip()
    if spec in ("", DEFAULT_CLASSIFIER):
        return NudeNetClassifier()
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ClassifierError(
            f"PARLEY_VISION_CLASSIFIER={spec!r}: use 'nudenet' or 'package.module:factory'"
        )
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ClassifierError(f"PARLEY_VISION_CLASSIFIER={spec!r}: {exc}") from exc
    classifier = factory()
    if not isinstance(classifier, Classifier):
        raise ClassifierError(
            f"PARLEY_VISION_CLASSIFIER={spec!r}: the factory must return an object with "
            "name, load() and classify(jpeg)"
        )
    return classifier
