"""The classifier side of vision moderation: the real nudenet model, plug-in loading, the JPEG
header check, thresholds and cadence; and a real server deciding with nudenet.

Tests that need nudenet (the `vision` extra, which scripts/bootstrap installs) skip without it,
and fail under CI=true.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
from typing import Any

import pytest
from PIL import Image

from harness import components
from harness.client import pair
from harness.protocol import metric, wait_metric
from harness.stills import b64, fake_camera, gradient, jpeg, ordinary_stills, portrait
from parley.config import Settings
from parley.jpeg import jpeg_size
from parley.safety.classifier import (
    ClassifierError,
    Detection,
    NudeNetClassifier,
    UnreadableImage,
    make_classifier,
)
from parley.safety.vision import Thresholds, sample_interval

DEFAULT_THRESHOLDS = Settings(_env_file=None).vision_threshold_map()


@pytest.fixture(scope="module")
def nudenet() -> NudeNetClassifier:
    components.require_nudenet()
    classifier = NudeNetClassifier()
    classifier.load()
    return classifier


# ---- the real classifier --------------------------------------------------------------------


def test_nudenet_finds_nothing_over_thresholds_on_ordinary_synthetic_frames(
    nudenet: NudeNetClassifier,
) -> None:
    judge = Thresholds(DEFAULT_THRESHOLDS, suspect_ratio=0.5)
    for name, still in ordinary_stills():
        found = nudenet.classify(still)
        assert judge.judge(tuple(found)).positive == (), (name, found)


def test_nudenet_output_format_on_a_shipped_photograph(nudenet: NudeNetClassifier) -> None:
    still = portrait()
    width, height = Image.open(io.BytesIO(still)).size
    found = nudenet.classify(still)
    assert found, "the portrait should at least show a face"
    for d in found:
        assert isinstance(d, Detection)
        assert d.label in NudeNetClassifier.labels
        assert 0.0 <= d.score <= 1.0
        x, y, w, h = d.box
        assert all(isinstance(v, int) for v in d.box)
        assert 0 <= x <= width and 0 <= y <= height and w >= 0 and h >= 0
        assert x + w <= width + 1 and y + h <= height + 1
    assert "FACE_FEMALE" in {d.label for d in found}
    # and a face is not nudity
    assert Thresholds(DEFAULT_THRESHOLDS, 0.5).judge(tuple(found)).positive == ()


def test_nudenet_refuses_bytes_that_do_not_decode(nudenet: NudeNetClassifier) -> None:
    header_only = jpeg(gradient())[:600] + b"\x00" * 200
    with pytest.raises(UnreadableImage):
        nudenet.classify(b"not an image at all")
    with contextlib.suppress(UnreadableImage):  # OpenCV may recover part; it must not crash
        nudenet.classify(header_only)


def test_nudenet_labels_are_the_models_own(nudenet: NudeNetClassifier) -> None:
    """The classes Parley checks thresholds against are the ones the bundled model reports."""
    import onnxruntime

    model = onnxruntime.InferenceSession(
        str(nudenet.model_path()), providers=["CPUExecutionProvider"]
    )
    names = ast.literal_eval(model.get_modelmeta().custom_metadata_map["names"])
    assert set(names.values()) == NudeNetClassifier.labels


def test_nudenet_loaded_by_its_name(nudenet: NudeNetClassifier) -> None:
    classifier = make_classifier("nudenet")
    assert isinstance(classifier, NudeNetClassifier)
    classifier.load()
    assert classifier.classify(jpeg(fake_camera(1))) == nudenet.classify(jpeg(fake_camera(1)))


async def test_a_real_server_with_nudenet_passes_an_ordinary_camera(server_factory: Any) -> None:
    """End to end with the real model: an ordinary fake-camera still is classified, no action."""
    components.require_nudenet()
    handle = server_factory(
        PARLEY_VISION="on",
        PARLEY_VISION_CLASSIFIER="nudenet",
        PARLEY_VISION_WORKERS=1,
        startup_timeout=120,
    )
    a, b, pair_id = await pair(handle, mode="video")
    assert a.welcome is not None
    assert a.welcome["vision"] is True
    await a.expect("sample")
    await b.expect("sample")
    for i in range(3):
        await a.send("frame", pair=pair_id, jpeg=b64(jpeg(fake_camera(i * 11))), id=i)
    assert await wait_metric(handle, "parley_vision_frames_classified_total", 3) == 3
    assert metric(handle, "parley_vision_frames_positive_total") == 0
    assert metric(handle, "parley_vision_classify_seconds_count") == 3
    await a.say("still chatting")
    assert (await b.expect("message"))["text"] == "still chatting"  # the pair goes on
    # and the only moderation event is the clean verdict on a's first still (a guarded first
    # look): b's page may show a's video
    moderation = [f for f in b.history if f["type"] == "moderation"]
    assert [(f["action"], f["pair"]) for f in moderation] == [("clear", pair_id)]
    # a JPEG header over garbage passes the cheap check, then fails to decode in the worker
    broken = base64.b64encode(b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10" + b"\x00" * 64)
    await a.send("frame", pair=pair_id, jpeg=broken.decode(), id=9)
    assert (await a.expect("error", timeout=10))["code"] == "bad_frame_image"


# ---- plug-ins ------------------------------------------------------------------------------


def test_plugin_spec_loads_a_factory() -> None:
    classifier = make_classifier("harness.vision_plugins:fixed_positive")
    classifier.load()
    assert classifier.classify(b"")[0].score == 0.99


@pytest.mark.parametrize(
    "spec",
    ["no_such_module:factory", "harness.vision_plugins:nope", "justaname", ":x", "os:getcwd"],
)
def test_bad_plugin_specs_say_what_is_wrong(spec: str) -> None:
    with pytest.raises(ClassifierError, match="PARLEY_VISION_CLASSIFIER"):
        make_classifier(spec)


# ---- the cheap JPEG header check -----------------------------------------------------------


def test_jpeg_size_reads_the_frame_header() -> None:
    assert jpeg_size(jpeg(gradient(320, 240))) == (320, 240)
    assert jpeg_size(jpeg(gradient(17, 300))) == (17, 300)
    grey = io.BytesIO()
    gradient(100, 50).convert("L").save(grey, "JPEG", progressive=True)
    assert jpeg_size(grey.getvalue()) == (100, 50)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"\xff\xd8\xff\xe0\x00\x01",  # a segment length below 2
        b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 20,  # scan data before any frame header
        b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10",  # zero height
        b"\xff\xd8\xff\xe0\xff\xff" + b"\x00" * 10,  # a segment running past the end
        b"\xff\xd8" + b"\xff" * 1000,  # only fill bytes
    ],
)
def test_jpeg_size_refuses_what_is_not_a_jpeg(data: bytes) -> None:
    assert jpeg_size(data) is None


# ---- thresholds and cadence ----------------------------------------------------------------


def test_thresholds_by_class() -> None:
    judge = Thresholds({"MALE_GENITALIA_EXPOSED": 0.5, "FEMALE_BREAST_EXPOSED": 0.6}, 0.5)
    box = (0, 0, 1, 1)
    assert judge.judge((Detection("MALE_GENITALIA_EXPOSED", 0.5, box),)).positive
    assert not judge.judge((Detection("FEMALE_BREAST_EXPOSED", 0.59, box),)).positive
    assert judge.judge((Detection("FEMALE_BREAST_EXPOSED", 0.59, box),)).suspect
    assert not judge.judge((Detection("FEMALE_BREAST_EXPOSED", 0.29, box),)).suspect
    face = judge.judge((Detection("FACE_FEMALE", 0.99, box),))  # not a configured class
    assert not face.positive and not face.suspect


def test_threshold_setting_is_validated() -> None:
    env: dict[str, Any] = {"_env_file": None}
    good = Settings(vision_thresholds="anus_exposed=0.4, ", **env)
    assert good.vision_threshold_map() == {"ANUS_EXPOSED": 0.4}
    for bad in ("ANUS_EXPOSED", "ANUS_EXPOSED=2", "=0.5", "ANUS_EXPOSED=x"):
        with pytest.raises(ValueError, match="PARLEY_VISION_THRESHOLDS"):
            Settings(vision_thresholds=bad, **env)
    with pytest.raises(ValueError, match="PARLEY_WS_MAX_SIZE"):
        Settings(vision_max_bytes=60_000, **env)  # its base64 would not fit a 64 KiB frame
    assert Settings(vision_max_bytes=60_000, ws_max_size=90_000, **env).vision_frame_chars > 80_000


def test_sample_interval_is_fast_early_and_after_a_flag() -> None:
    at = {"interval": 3.0, "fast_interval": 1.0, "fast_window": 10.0}
    assert sample_interval(pair_age=0.0, flagged=False, **at) == 1.0
    assert sample_interval(pair_age=9.9, flagged=False, **at) == 1.0
    assert sample_interval(pair_age=10.0, flagged=False, **at) == 3.0
    assert sample_interval(pair_age=500.0, flagged=True, **at) == 1.0
