"""Video mode's connection and media stay without the page (issue 17): webrtc.js (the peer
connection) reports by events and camera.js (camera and microphone) by return values; neither
reaches into the document, so the mode's UI (video.js) can change freely and the rest can be run
and read on its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import parley

WEB_DIR = Path(parley.__file__).parent / "web"
# The page's globals: the document, the window, the DOM's lookups and the page's translations.
PAGE_NAMES = re.compile(
    r"\b(document|window|querySelector\w*|getElementById|HTMLElement|i18n\.js|textContent)\b"
)


def code_of(path: Path) -> str:
    """The module without its comments (they may name the page to explain the split)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


@pytest.mark.parametrize("module", ["webrtc.js", "camera.js"])
def test_the_module_names_nothing_of_the_page(module: str) -> None:
    found = PAGE_NAMES.findall(code_of(WEB_DIR / module))
    assert found == [], f"{module} reaches into the page: {sorted(set(found))}"


def test_webrtc_js_reports_by_events_and_video_js_listens() -> None:
    webrtc = code_of(WEB_DIR / "webrtc.js")
    assert "class Call extends EventTarget" in webrtc
    video = code_of(WEB_DIR / "video.js")
    for event in ("signal", "state", "track"):
        assert f'this.#emit("{event}"' in webrtc, event
        assert f'addEventListener("{event}"' in video, event
    assert "new RTCPeerConnection" not in video  # the connection is webrtc.js's alone
    assert "getUserMedia" not in video  # and the camera camera.js's
