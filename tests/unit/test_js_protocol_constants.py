"""The protocol constants the page still holds, read from the JS and compared with the server's
(src/parley/protocol.py, and the built-in defaults of src/parley/config.py).

The page takes its limits and rates from ``welcome.limits``; what it still holds is what it needs
before any ``welcome`` (close codes, the landing form's limits) or what no welcome carries.
Every top-level constant in src/parley/web/*.js is either checked here against the server, or
listed as the page's own (with why); a new constant fails this test until it is classified, so
no hand copy of a protocol value can slip in unchecked. Every snake_case string the JS compares
frames with must be a name the protocol knows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest

from parley import protocol
from parley.config import Settings
from parley.protocol import CloseCode, ErrorCode
from parley.safety.age import MAX_AGE

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "parley" / "web"
PROTOCOL_MD = ROOT / "docs" / "protocol.md"

# ---- reading JS ---------------------------------------------------------------------------------

_CONST = re.compile(r"^(?:export )?const ([A-Z][A-Z0-9_]*) = ", re.M)
_PAIRS = re.compile(r"""(?:^|[{,\s])["']?([A-Za-z_][\w]*)["']?\s*:\s*("[^"]*"|[\w.]+)""")
_COMMENT = re.compile(r"(?:(?<=\s)|^)//[^\n]*", re.M)  # after whitespace: not the // of a URL
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')  # the page's strings are double-quoted


def source(name: str) -> str:
    return (WEB / name).read_text(encoding="utf-8")


def _statement(text: str, start: int) -> str:
    """The text of the expression that starts at ``start``, up to its ``;`` at depth 0."""
    depth, i = 0, start
    quote: str | None = None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ";" and depth == 0:
            return text[start:i]
        i += 1
    raise AssertionError(f"unterminated statement at {start}")


@cache
def constants(name: str) -> dict[str, str]:
    """Every top-level ``const NAME = …;`` of a JS file: name → the expression's text."""
    text = source(name)
    found = {m.group(1): _statement(text, m.end()) for m in _CONST.finditer(text)}
    return {k: _COMMENT.sub("", v) for k, v in found.items()}


def every_constant() -> Iterator[tuple[str, str]]:
    for path in sorted(WEB.glob("*.js")):
        for const in constants(path.name):
            yield path.name, const


def number(expr: str) -> float:
    expr = expr.strip().replace("_", "")
    assert re.fullmatch(r"[0-9.]+", expr), f"not a plain number: {expr!r}"
    return float(expr)


def mapping(expr: str) -> dict[str, str]:
    """An object literal's keys and (literal) values; strings without their quotes."""
    return {k: v.strip('"') for k, v in _PAIRS.findall(expr)}


def code(text: str) -> str:
    """JS without its comments (a comment's apostrophe is no string quote)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return _COMMENT.sub("", text)


def strings(expr: str) -> set[str]:
    return set(_STRING.findall(code(expr)))


# ---- what the server says -----------------------------------------------------------------------

DEFAULTS = Settings()
ERROR_CODES = {c.value for c in ErrorCode}


@cache
def vocabulary() -> frozenset[str]:
    """Every name and literal value of the wire: types, fields, enum values, notice codes."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    found.update(value)
                if key in ("enum", "const"):
                    found.update(v for v in (value if isinstance(value, list) else [value]))
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(msgspec.json.schema_components([protocol.ClientMessage, protocol.ServerMessage]))
    notice_row = next(
        ln for ln in PROTOCOL_MD.read_text().splitlines() if ln.startswith("| `notice`")
    )
    found.update(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", notice_row))
    return frozenset(v for v in found if isinstance(v, str))


def close_codes_that_end_for_good() -> set[str]:
    """The close codes after which reconnecting is pointless (docs/protocol.md's words)."""
    return {"REFUSED", "UNSUPPORTED_VERSION", "BANNED"}


# ---- the checks ---------------------------------------------------------------------------------

Check = Callable[[str], None]


def _eq(expected: float) -> Check:
    def check(expr: str) -> None:
        assert number(expr) == expected

    return check


def _ms(seconds: float) -> Check:
    return _eq(seconds * 1000)


def _close(expr: str) -> None:
    assert {k: int(v) for k, v in mapping(expr).items()} == {c.name: c.value for c in CloseCode}


def _close_names(names: set[str]) -> Check:
    def check(expr: str) -> None:
        assert set(re.findall(r"CLOSE\.([A-Z_]+)", expr)) == names

    return check


def _error_codes(extra: frozenset[str] = frozenset()) -> Check:
    """An object keyed (or a Set/array made) of error codes, plus the page's own ``extra``."""

    def check(expr: str) -> None:
        keys = set(mapping(expr)) if expr.lstrip().startswith("{") else strings(expr)
        assert keys, expr
        assert keys <= ERROR_CODES | extra, keys - ERROR_CODES - extra

    return check


def _final_refusals(expr: str) -> None:
    # docs/protocol.md: these errors are followed by close 4003.
    assert strings(expr) == {"age_refused", "minor_pool_closed", "age_mismatch"}
    assert strings(expr) <= ERROR_CODES


def _report_categories(expr: str) -> None:
    categories = set(get_args(protocol.ReportCategory))
    assert set(mapping(expr)) <= categories


def _landing_limits(expr: str) -> None:
    assert mapping(expr) == {
        "max_interests": str(DEFAULTS.max_interests),
        "max_interest_chars": str(DEFAULTS.max_interest_chars),
    }


def _below_signal_buckets(kind: str) -> Check:
    """The page paces its signals under the server's signal and any-frame buckets."""

    def check(expr: str) -> None:
        value = number(expr)
        limit = min(getattr(DEFAULTS, f"signal_{kind}"), getattr(DEFAULTS, f"frame_{kind}"))
        assert 0 < value <= limit, (value, limit)

    return check


def _modes(expr: str) -> None:
    assert strings(expr) == set(get_args(protocol.Mode))


def _protocol_version(expr: str) -> None:
    assert number(expr) == protocol.PROTOCOL_VERSION


CHECKED: dict[tuple[str, str], Check] = {
    ("connection.js", "PROTOCOL_VERSION"): _protocol_version,
    ("connection.js", "CLOSE"): _close,
    ("connection.js", "FINAL"): _close_names(close_codes_that_end_for_good()),
    ("connection.js", "SANCTION"): _close_names({"PROTOCOL_ABUSE", "RATE_ABUSE"}),
    ("connection.js", "PING_AFTER_MS"): _ms(protocol.PING_AFTER),
    ("connection.js", "PING_TIMEOUT_MS"): _ms(protocol.PING_TIMEOUT),
    ("connection.js", "ABNORMAL"): lambda e: _not_a_server_close(number(e)),
    ("session.js", "FINAL_REFUSALS"): _final_refusals,
    ("session.js", "FIELD_OF_ERROR"): _error_codes(),
    ("session.js", "BLOCK_FAILED"): _error_codes(),
    ("session.js", "START_FAILED"): _error_codes(),
    ("session.js", "NOT_SENT_REASON"): _error_codes(),
    ("safety.js", "REPORT_FAILED"): _error_codes(frozenset({"offline"})),  # the page's own
    ("safety.js", "EMERGENCY_NOTE"): _report_categories,
    ("sampler.js", "STOP_CODES"): _error_codes(),
    ("sampler.js", "IMAGE_CODES"): _error_codes(),
    ("sampler.js", "MAX_PX"): _eq(DEFAULTS.vision_max_px),
    ("sampler.js", "DEFAULT_QUALITY"): _eq(DEFAULTS.vision_quality),
    ("question.js", "QUESTION_MIN"): _eq(protocol.QUESTION_MIN_CHARS),
    ("question.js", "QUESTION_MAX"): _eq(protocol.QUESTION_MAX_CHARS),
    ("landing.js", "DEFAULT_LIMITS"): _landing_limits,
    ("landing.js", "FORM_MODES"): _modes,
    ("webrtc.js", "SIGNAL_RATE"): _below_signal_buckets("rate"),
    ("webrtc.js", "SIGNAL_BURST"): _below_signal_buckets("burst"),
    ("waiting.js", "DEFAULT_HINTS_S"): _eq(DEFAULTS.wait_hints),  # until the welcome says
}


def _not_a_server_close(code: float) -> None:
    assert code == 1006 and code not in {c.value for c in CloseCode}


# The page's own: timings, storage keys, translation tables, DOM. Not the protocol's.
PAGE_ONLY: dict[tuple[str, str], str] = {
    ("app.js", "STATUS_POLL_MS"): "how often the landing refreshes /api/status",
    ("app.js", "INVITE_BELOW"): "wording of the public online figure",
    ("chat.js", "STOP_LABELS"): "translation keys",
    ("chat.js", "SEAT_LABELS"): "translation keys",
    ("chat.js", "NEAR_BOTTOM_PX"): "scrolling",
    ("chat.js", "MAX_LINES"): "how many lines the page keeps",
    ("chat.js", "MASK"): "parley.safety.text.PLACEHOLDER, checked below",
    ("connection.js", "BACKOFF_BASE_MS"): "reconnect pacing",
    ("connection.js", "BACKOFF_CAP_MS"): "reconnect pacing",
    ("connection.js", "DEFAULT_SILENCE_MS"): "for a server before 1.6 only",
    ("connection.js", "OPEN_TIMEOUT_MS"): "how long a handshake may take",
    ("connection.js", "WATCHDOG_TICK_MS"): "timer granularity",
    ("i18n.js", "SUPPORTED"): "page languages",
    ("i18n.js", "STORAGE_KEY"): "localStorage",
    ("i18n.js", "FALLBACK_LANG"): "page languages",
    ("landing.js", "REFUSED_KEY"): "localStorage",
    ("landing.js", "REFUSED_WHY_KEY"): "localStorage",
    ("landing.js", "REFUSED_FOR_MS"): "how long the page remembers a refusal",
    ("landing.js", "PROFILE_KEY"): "localStorage",
    ("waiting.js", "ALERT_KEY"): "localStorage",
    ("waiting.js", "COUNT_POLL_MS"): "how often the waiting screen refreshes /api/status",
    ("modes.js", "MODES"): "mode modules by hello.mode (checked through FORM_MODES)",
    ("question.js", "SEATS"): "seat names, checked by the vocabulary test",
    ("question.js", "CLOCK_TICK_MS"): "timer granularity",
    ("question.js", "MAX_PLAUSIBLE_WAIT_S"): "clock sanity",
    ("safety.js", "KNOWN_REASONS"): "translations of the server's statements (test_browser_safety)",
    ("safety.js", "MAX_TIMEOUT_MS"): "setTimeout's limit",
    ("safety.js", "ABOUT_CHOICES"): "seat names, checked by the vocabulary test",
    ("safety.js", "ABOUT_DEFAULT"): "seat names, checked by the vocabulary test",
    ("safety.js", "STILL_MAX_SIDE"): "the page's report still (docs/protocol.md, HTTP)",
    ("sampler.js", "MIN_INTERVAL_MS"): "a floor under any `sample` interval",
    ("sampler.js", "RETRY_QUALITY_FACTOR"): "encoding",
    ("sampler.js", "MAX_BACKOFF"): "pacing",
    ("sampler.js", "BACKOFF_RESET_MS"): "pacing",
    ("sampler.js", "MAX_IMAGE_REFUSALS"): "pacing",
    ("session.js", "DEVICE_KEY"): "localStorage",
    ("session.js", "TYPING_IDLE_MS"): "when typing stops",
    ("session.js", "MAX_TRACKED_IDS"): "memory bound",
    ("session.js", "RETRYABLE"): "translation keys",
    ("webrtc.js", "CONNECT_TIMEOUT_MS"): "WebRTC",
    ("webrtc.js", "DISCONNECTED_GRACE_MS"): "WebRTC",
    ("camera.js", "MEDIA_ERRORS"): "DOMException names",
    ("video.js", "PHONE_QUERY"): "the phone layout's width (style.css)",
    ("video.js", "VISION_NOTICE_MS"): "how long a notice shows",
    ("video.js", "OVERLAY"): "translation keys",
    ("video.js", "MEDIA_FAILURES"): "camera states",
    ("video.js", "ALWAYS_BLUR_KEY"): "localStorage",
}


def test_every_constant_of_the_page_is_checked_or_the_pages_own() -> None:
    found = set(every_constant())
    unclassified = found - set(CHECKED) - set(PAGE_ONLY)
    assert not unclassified, (
        f"classify these JS constants in {Path(__file__).name}: checked against the server "
        f"(CHECKED) or the page's own (PAGE_ONLY): {sorted(unclassified)}"
    )
    gone = (set(CHECKED) | set(PAGE_ONLY)) - found
    assert not gone, f"constants this test lists that the JS no longer has: {sorted(gone)}"


@pytest.mark.parametrize("where", sorted(CHECKED), ids=lambda w: f"{w[0]}:{w[1]}")
def test_the_constant_matches_the_server(where: tuple[str, str]) -> None:
    file, name = where
    CHECKED[where](constants(file)[name])


def test_the_mask_is_the_servers_placeholder() -> None:
    from parley.safety.text import PLACEHOLDER

    assert constants("chat.js")["MASK"].strip().strip('"') == PLACEHOLDER


def test_every_snake_case_string_the_page_uses_is_a_protocol_name() -> None:
    """Error codes, types, fields and values the JS compares frames with exist on the wire."""
    unknown = {}
    for path in sorted(WEB.glob("*.js")):
        used = {s for s in strings(path.read_text()) if re.fullmatch(r"[a-z]+(?:_[a-z0-9]+)+", s)}
        if used - vocabulary():
            unknown[path.name] = sorted(used - vocabulary())
    assert not unknown, f"not names of the protocol (docs/protocol.md): {unknown}"


def test_close_codes_are_named_not_written_as_numbers() -> None:
    """Outside the CLOSE table a close code is CLOSE.NAME, so that this test sees every use."""
    codes = {str(c.value) for c in CloseCode if c.value >= 4000}
    for path in sorted(WEB.glob("*.js")):
        text = path.read_text()
        table = constants(path.name).get("CLOSE", "")
        code_only = code(text.replace(table, ""))  # comments may name codes
        literal = sorted(set(re.findall(r"\b(4\d{3})\b", code_only)) & codes)
        assert not literal, f"{path.name} writes close codes as numbers: {literal}"


def test_the_html_limits_are_the_servers() -> None:
    """The composer takes any length (the page refuses a long line and says why); the question
    and the report comment carry the server's limits."""
    html = source("index.html")
    composer = re.search(r'<textarea id="input"[^>]*>', html)
    assert composer is not None and "maxlength" not in composer.group(0)
    question = re.search(r'<textarea id="question"[^>]*>', html)
    assert question is not None
    assert f'maxlength="{protocol.QUESTION_MAX_CHARS}"' in question.group(0)
    comment = re.search(r'<textarea [^>]*data-testid="report-comment"[^>]*>', html)
    assert comment is not None
    assert f'maxlength="{protocol.REPORT_COMMENT_MAX_CHARS}"' in comment.group(0)
    age = re.search(r'<input id="age"[^>]*>', html)
    assert age is not None and f'maxlength="{len(str(MAX_AGE))}"' in age.group(0)
    assert set(re.findall(r'maxlength="(\d+)"', html)) == {
        str(protocol.QUESTION_MAX_CHARS),
        str(protocol.REPORT_COMMENT_MAX_CHARS),
        str(len(str(MAX_AGE))),
    }, "a maxlength this test does not check"


def test_the_report_comment_limit_is_the_servers() -> None:
    text = source("safety.js")
    cuts = re.findall(r"slice\(0, (\d+)\)|max: (\d+)", text)
    values = {int(a or b) for a, b in cuts}
    assert values == {protocol.REPORT_COMMENT_MAX_CHARS}, values


def test_liveness_notices_a_dead_link_within_about_10_s() -> None:
    tick = number(constants("connection.js")["WATCHDOG_TICK_MS"]) / 1000
    worst = protocol.PING_AFTER + tick + protocol.PING_TIMEOUT + tick
    assert worst <= 10, worst
    assert math.isclose(
        protocol.PING_AFTER * 1000, number(constants("connection.js")["PING_AFTER_MS"])
    )
