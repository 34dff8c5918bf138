"""Text hygiene and the text safety filter.

Three jobs, all rule-based, fast and offline (no model, no network):

- :func:`normalise_interests` and :func:`clean_message`: bounds and hygiene for every line.
- :func:`mask_contacts`: for minors, hide phone numbers, e-mail addresses, links and moves to
  another platform ("add me on snap") before a line is delivered. The sender is told what kinds
  were hidden.
- :class:`ConversationRisk`: score grooming signals over a whole conversation (age probing,
  image requests, secrecy, isolation, meeting up, gifts, sexual talk, off-platform moves). The
  state is a few counters per side, never a transcript. :meth:`ConversationRisk.feed` returns a
  :class:`RiskAlert` once per side, when its score first crosses the threshold: the server then
  shows the partner a safety prompt and flags the conversation for review.
- :func:`screen_line` does both for one relayed line, folding and scanning it once.

How the matching is kept safe and cheap:

- Each line is folded once (NFKC, case-folded, combining marks and format characters dropped,
  Cyrillic/Greek look-alikes mapped to Latin, foreign decimal digits mapped to 0-9). An index map
  leads every folded character back to the original text, so a masked line keeps the sender's own
  characters everywhere except in the hidden spans. ASCII lines, the common case, skip the fold.
- Every pattern is written to run in linear time on hostile input: repetitions are over
  character classes that cannot also match what follows them, long runs are possessive or
  bounded, and a pattern may only start at a token boundary (a look-behind), so a 1,000-character
  run of digits or letters is scanned once, not once per starting position. The tests feed such
  inputs and bound the time.
- Each rule names anchor words that any of its matches contains. A line's words are collected
  once, and a rule's regex runs only when an anchor is present, so a typical line runs a few
  regexes, not forty. Anchors only skip work: a test checks that results are identical without
  them.
- Word lists and edge choices are documented next to each pattern. The labelled corpora in
  ``tests/data/`` hold the benign look-alikes that they are checked against, and a held-out set
  whose first-run figures (before any tuning) are the honest estimate of quality.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

from parley.protocol import ErrorCode, ProtocolError

_SPACE = re.compile(r"\s+")
# C0/C1 controls, except tab and newline, and bidi overrides that can disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def normalise_interests(raw: list[str], *, max_count: int, max_chars: int) -> list[str]:
    """NFKC, lower case, trimmed, leading '#' dropped, inner spaces collapsed, deduplicated."""
    if len(raw) > max_count * 4:  # cheap guard before doing any Unicode work
        raise ProtocolError(ErrorCode.BAD_INTERESTS, f"at most {max_count} interests")
    seen: dict[str, None] = {}
    for item in raw:
        text = _CONTROL.sub("", unicodedata.normalize("NFKC", item[: max_chars * 4]))
        text = _SPACE.sub(" ", text).strip().lstrip("#").strip().casefold()
        if not text:
            continue
        if len(text) > max_chars:
            raise ProtocolError(
                ErrorCode.BAD_INTERESTS, f"each interest may have at most {max_chars} characters"
            )
        seen[text] = None
    if len(seen) > max_count:
        raise ProtocolError(ErrorCode.BAD_INTERESTS, f"at most {max_count} interests")
    return list(seen)


def clean_message(text: str, *, max_chars: int) -> str:
    """Strip control characters and surrounding whitespace; enforce 1..max_chars."""
    if len(text) > max_chars * 2:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LONG, f"messages are at most {max_chars} characters"
        )
    cleaned = _CONTROL.sub("", text).strip()
    if not cleaned:
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty")
    if len(cleaned) > max_chars:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LONG, f"messages are at most {max_chars} characters"
        )
    return cleaned


# --------------------------------------------------------------------------------------------
# Folding: one canonical lower-case Latin form per line, with a map back to the original.
# --------------------------------------------------------------------------------------------

# Look-alikes that NFKC leaves alone. Only letters that pass for Latin ones in ordinary fonts:
# the goal is to defeat "аdd me on snаp" (Cyrillic а), not to transliterate other scripts.
_CONFUSABLE_PAIRS = (
    "аa вb еe ёe кk мm нh оo рp сc тt уy хx іi їi јj ѕs ԁd ԛq ԝw һh ɡg ɑa οo αa εe ιi κk νv ρp τt "
    "υu χx ωw ‘' ’' ʼ' ＇' ´' `' ‐- ‑- ‒- –- —- −-"
)
_CONFUSABLES: Final = str.maketrans({pair[0]: pair[1] for pair in _CONFUSABLE_PAIRS.split()})
# Marks and invisible format characters (zero-width joiners, soft hyphens) are dropped, so
# "s\u200bnap" and "z̲e̲r̲o̲" read as "snap" and "zero".
_DROPPED_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf"})


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    digit = unicodedata.decimal(char, None)
    if digit is not None:  # Arabic-Indic, Devanagari, fullwidth, mathematical bold, ... digits
        return str(digit)
    out = []
    for c in unicodedata.normalize("NFKC", char).casefold():
        if unicodedata.category(c) not in _DROPPED_CATEGORIES:
            out.append(c)
    return "".join(out).translate(_CONFUSABLES)


@dataclass(frozen=True, slots=True)
class _Folded:
    """A folded line. ``origin[i]`` is the index in the original text of folded character i
    (``None`` when folding kept every index, i.e. the line was ASCII)."""

    text: str
    origin: list[int] | None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded span [start, end) to the original text."""
        if self.origin is None:
            return start, end
        if start >= end:
            return self.origin[start], self.origin[start]
        return self.origin[start], self.origin[end - 1] + 1


def _fold(text: str) -> _Folded:
    if text.isascii():
        # The fast path: lower() keeps every index, and nothing in ASCII needs NFKC.
        return _Folded(text.lower(), None)
    parts: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        if char < "\x80":
            parts.append(char.lower())
            origin.append(i)
            continue
        folded = _fold_char(char)
        parts.append(folded)
        origin.extend([i] * len(folded))
    origin.append(len(text))  # sentinel, so an empty span at the very end maps too
    return _Folded("".join(parts), origin)


# Leetspeak, for keywords only ("sn4p", "s3nd p1cs", "h0w 0ld r u"): a 0/1/3/4/5/7/@/$ that is
# followed by a letter is read as the letter it stands for. Digits that end a token ("ps4",
# "cutie123") and tokens of pure digits ("14", "0812") are left alone, so ages, user names and
# phone numbers are never rewritten, and neither is a leading "@" ("@quietfox"). Same length, so
# spans need no second map.
_LEET: Final = str.maketrans("013457@$", "oieastas")
_LEET_INNER = re.compile(r"[0-9@$][a-z]")
_LEET_TOKEN = re.compile(r"(?<![a-z0-9@$])[a-z0-9@$]++")


def _leet_token(m: re.Match[str]) -> str:
    token = m.group()
    if _LEET_INNER.search(token) is None:
        return token
    if token[0] == "@":
        return "@" + token[1:].translate(_LEET)
    return token.translate(_LEET)


def _unleet(folded: str) -> str:
    if _LEET_INNER.search(folded) is None:
        return folded
    return _LEET_TOKEN.sub(_leet_token, folded)


# Every rule names words (or substrings) that any match must contain. A line is split into a
# set of words once, and a rule's regex runs only when one of its words is there: most lines
# then run two or three regexes instead of forty. The anchors only skip work, they never change
# a result; tests/test_text_filter.py checks that on the corpora and on generated text, with
# this switch off.
_PREFILTER = True
_TOKEN = re.compile(r"[a-z]+|[0-9]+")  # letters and digits apart: "age0" holds "age"


@dataclass(frozen=True, slots=True)
class _Rule:
    """A pattern, and what any of its matches contains: one of ``words`` (or ``substrings``),
    and, when ``also`` or ``also_substrings`` is given, one of those as well ("a platform name
    and one of the verbs"), so that a common word alone does not wake an expensive regex."""

    pattern: re.Pattern[str]
    words: frozenset[str]
    substrings: tuple[str, ...] = ()
    also: frozenset[str] = frozenset()
    also_substrings: tuple[str, ...] = ()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _rule(
    pattern: str,
    words: Iterable[str] | str,
    substrings: tuple[str, ...] = (),
    *,
    also: str = "",
    also_substrings: tuple[str, ...] = (),
) -> _Rule:
    anchors = _words(words) if isinstance(words, str) else frozenset(words)
    return _Rule(re.compile(pattern), anchors, substrings, _words(also), also_substrings)


@dataclass(frozen=True, slots=True)
class _Line:
    """One line, prepared once: folded, leetspeak undone (``keywords``), and its words."""

    folded: _Folded
    keywords: str
    words: frozenset[str]

    def admits(self, rule: _Rule) -> bool:
        if not _PREFILTER:
            return True
        if rule.words.isdisjoint(self.words) and not (
            rule.substrings and any(s in self.keywords for s in rule.substrings)
        ):
            return False
        if not rule.also and not rule.also_substrings:
            return True
        return not rule.also.isdisjoint(self.words) or any(
            s in self.keywords for s in rule.also_substrings
        )


def _prepare(text: str) -> _Line:
    folded = _fold(text)
    keywords = _unleet(folded.text)
    return _Line(folded, keywords, frozenset(_TOKEN.findall(keywords)))


# --------------------------------------------------------------------------------------------
# Contact details: phone numbers, e-mail addresses, links, handles and off-platform moves.
# --------------------------------------------------------------------------------------------

ContactKind = Literal["phone", "email", "url", "handle"]
CONTACT_KINDS: Final[tuple[ContactKind, ...]] = ("phone", "email", "url", "handle")
PLACEHOLDER: Final = "[hidden]"


@dataclass(frozen=True, slots=True)
class ContactSpan:
    """A span of the original text that holds contact details of ``kind``."""

    start: int
    end: int
    kind: ContactKind


# ---- phone numbers -------------------------------------------------------------------------
# A run of at least 7 digits, or spelled-out digits ("zero eight one two ..."), separated by at
# most 3 of: space, dot, dash, slash, brackets, underscore, or ", ". Each repetition must consume
# a digit, and no separator is a digit, so a run is scanned once. The look-behind stops a match
# from starting inside a word or a longer number. Commas without a space are not separators:
# "1,000,000 views" is a count.
_NUMBER_WORDS: Final = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_DIGITISH = r"(?:\d|(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b)"
_PHONE = re.compile(rf"(?<![\w+])\+?\(?(?:{_DIGITISH}(?:[ .\-/()_]|, ){{0,3}}){{7,}}")
_PHONE_SEPARATORS = " .-/()_,"
_NUMBER_WORD = re.compile(r"[a-z]+")
# Shapes that look like phone numbers but are not: dates (12.05.2019, 12/05/2009) and round
# numbers (1000000).
_DATE = re.compile(r"\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([./-])\d{1,2}\2\d{1,2}")
_ROUND = re.compile(r"[1-9]0{6,}")
# Thousands grouped by dots or spaces: "1.299.000 rupiah", "100 000 people". A phone number's
# groups start with 0 or have 4 digits somewhere; an amount's are 1-3 then threes.
_AMOUNT = re.compile(r"[1-9]\d{0,2}(?:([. ])\d{3})(?:\1\d{3})*")
_CURRENCY_BEFORE = re.compile(r"(?:[$€£¥₹]|rp\.?|idr|usd|eur|gbp|inr)\s*$")
# An unseparated number right after "score"/"points" or before a counted noun is a count, not
# a number to call ("my high score is 1234567", "9000000 views"). Only for a plain run without a
# leading 0 or +: a real number written "0812345678" or "+62..." still counts as a phone.
_COUNT_BEFORE = re.compile(r"(?:score|points|pts|xp|level|lvl|rank|elo)\s*(?:is|was|of|:)?\s*$")
_COUNT_AFTER = re.compile(
    r"\s*(?:points|pts|xp|robux|coins|v-?bucks|views|followers|subs|subscribers|likes|"
    r"dollars|bucks|euros|gems|kills|wins|hours|years|people|times|rupiah|rp|yen|won|pesos|"
    r"rupees|pounds)\b"
)


_DIGIT = re.compile(r"\d")
_NUMBER_WORD_HINT = re.compile("|".join(_NUMBER_WORDS))


def _phone_spans(line: _Line) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    text = line.folded.text
    # Seven digits at least, unless some are spelled out. (The phone pattern reads the folded
    # text, not the leetspeak-undone one, so the number words are looked for there.)
    if _PREFILTER and len(_DIGIT.findall(text)) < 7 and _NUMBER_WORD_HINT.search(text) is None:
        return spans
    pos = 0
    while (m := _PHONE.search(text, pos)) is not None:
        start, end = m.start(), m.end()
        while end > start and text[end - 1] in _PHONE_SEPARATORS and text[end - 1] != ")":
            end -= 1  # trailing separators belong to the sentence, not the number
        raw = text[start:end]
        digits = _NUMBER_WORD.sub(lambda w: _NUMBER_WORDS.get(w.group(), ""), raw)
        digits = "".join(c for c in digits if c.isdigit())
        pos = max(m.end(), pos + 1)
        if len(digits) < 7:
            continue
        if _DATE.fullmatch(raw) or _ROUND.fullmatch(raw) or _AMOUNT.fullmatch(raw):
            continue
        if _CURRENCY_BEFORE.search(text, max(0, start - 8), start):
            continue
        if (
            raw.isdigit()
            and raw[0] != "0"
            and (
                _COUNT_BEFORE.search(text, max(0, start - 24), start)
                or _COUNT_AFTER.match(text, end)
            )
        ):
            continue
        spans.append((start, end))
    return spans


# ---- e-mail addresses ---------------------------------------------------------------------
# "a@b.com", and the spelled forms "a at gmail dot com", "a (at) b (dot) com", "a @ b . com".
# A spelled " at " is only an address when a known top-level domain or mail provider follows,
# so "good at math" and "my dad works at google" stay untouched.
_TLDS_STRONG = (
    r"com|net|org|edu|gov|mil|io|gg|ly|tv|xyz|info|biz|app|dev|ru|de|uk|ca|au|nz|fr|es|nl|pl|"
    r"jp|cn|kr|br|mx|ar|ee|site|online|link|page|club|live|chat|fun|top|shop|store|blog|wiki|"
    r"social|space|games|lol|pw|cc|ws|fm|ch|se|dk|fi|eu|tk|ml|ga|cf|gq"
)
# Top-level domains that are also common words or word endings ("fun.me", "haha.so", "ok.co"):
# they count only with a path ("t.me/x") or on a known host ("wa.me", "youtu.be").
_TLDS_WEAK = r"me|co|in|is|it|at|us|to|so|id|ai|am|as|be|ph|my|sg|hk|tw|vn|th|ng|za|ke"
_WEAK_HOSTS: Final = frozenset(
    {"t.me", "wa.me", "proton.me", "youtu.be", "discord.me", "snapchat.me", "ig.me", "m.me"}
)
# Providers that make "name at gmail" an address without a dot. Not "me", "live" or "mail":
# "he yelled at me", "i live at home".
_MAIL_PROVIDERS = (
    r"gmail|googlemail|yahoo|ymail|hotmail|outlook|msn|icloud|aol|proton|protonmail|gmx|"
    r"yandex|tutanota"
)
_AT = r"(?:\s{0,3}@\s{0,3}|\s{0,3}[(\[{<]\s{0,2}at\s{0,2}[)\]}>]\s{0,3}|\s{1,3}at\s{1,3})"
_DOT_WORD = r"(?:\s{0,3}[(\[{<]\s{0,2}dot\s{0,2}[)\]}>]\s{0,3}|\s{1,3}dot\s{1,3})"
_EMAIL = re.compile(
    rf"(?<![\w.+\-@])(?P<user>[\w.+\-]{{1,64}})(?P<at>{_AT})"
    rf"(?P<host>[\w\-]{{1,63}})"
    # Further labels: a plain dot takes any label; a spaced or spelled dot only a known TLD.
    rf"(?P<rest>(?:\.[\w\-]{{1,63}}|(?:\s{{1,3}}\.\s{{0,3}}|\s{{0,3}}\.\s{{1,3}}|{_DOT_WORD})"
    rf"(?:{_TLDS_STRONG}|{_TLDS_WEAK})\b){{0,5}})"
)
_PROVIDER = re.compile(rf"(?:{_MAIL_PROVIDERS})")
_PROVIDER_WORDS: Final = frozenset(_MAIL_PROVIDERS.split("|"))
# Cheap tests that start with a literal ".", which the regex engine finds by a fast scan.
_DOT_TLD = re.compile(rf"\.(?:{_TLDS_STRONG}|{_TLDS_WEAK})\b")
_SPACED_DOT_HINT = re.compile(r"\.(?:\s|(?<=\s\.))")
_TLD = re.compile(rf"(?:{_TLDS_STRONG}|{_TLDS_WEAK})")
_LAST_LABEL = re.compile(r"[\w\-]+$")


def _email_spans(line: _Line) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    text = line.folded.text
    if _PREFILTER and "@" not in text:
        # A spelled "at" needs a provider, or a dot (plain before a TLD, spaced, or spelled).
        words = line.words
        if "at" not in words or (
            words.isdisjoint(_PROVIDER_WORDS)
            and "dot" not in words
            and _DOT_TLD.search(text) is None
            and _SPACED_DOT_HINT.search(text) is None
        ):
            return spans
    pos = 0
    while (m := _EMAIL.search(text, pos)) is not None:
        end = m.end()
        if m.group("rest"):
            while end > m.start() and text[end - 1] in ".-":
                end -= 1  # trailing dots and dashes are prose
            # "a@b.draws" is an address; "follow me @sara.draws" is a handle: a spaced or
            # spelled "at" needs a real top-level domain at the end.
            last = _LAST_LABEL.search(text, m.start(), end)
            ok = m.group("at") == "@" or (
                last is not None and _TLD.fullmatch(last.group()) is not None
            )
        else:
            # No dot at all: only a known provider ("tommy99 at gmail"), and "@" must be written
            # plainly or the user part must look like one (not "look at this").
            ok = _PROVIDER.fullmatch(m.group("host")) is not None
        if ok and m.group("user").strip(".-+"):
            spans.append((m.start(), end))
            pos = end
        else:
            pos = m.start() + 1
    return spans


# ---- links ----------------------------------------------------------------------------------
_URL_SCHEME = re.compile(r"(?<![\w/])(?:https?\s{0,2}:\s{0,2}//|www\.)[^\s<>\"']{1,2048}")
_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,62})"
_PATH = r"(?:\s{0,2}/\s{0,2}[^\s<>\"']{0,512}|\s{1,2}slash\s{1,2}[^\s<>\"']{1,512})"
# A bare domain, dots written plainly: "coolgames.io", "sara-draws.tumblr.com", "t.me/x".
_DOMAIN = re.compile(
    rf"(?<![\w.@\-])(?:{_LABEL}\.){{1,6}}(?P<tld>{_TLDS_STRONG}|{_TLDS_WEAK})\b(?P<path>{_PATH})?"
)
# A domain with spaced or spelled dots: "bit . ly/abcd", "google dot com slash images".
_SPACED_DOT = rf"(?:\s{{1,3}}\.\s{{0,3}}|\s{{0,3}}\.\s{{1,3}}|{_DOT_WORD})"
_DOMAIN_SPACED = re.compile(
    rf"(?<![\w.@\-])(?P<host>{_LABEL}(?:{_SPACED_DOT}{_LABEL}){{0,3}}?){_SPACED_DOT}"
    rf"(?P<tld>{_TLDS_STRONG}|{_TLDS_WEAK})\b(?P<path>{_PATH})?"
)
_SPACED_HOSTS: Final = frozenset(
    {"bit", "t", "wa", "discord", "tinyurl", "linktr", "onlyfans", "snapchat", "instagram", "youtu",
     "tiktok", "twitter", "x", "facebook", "fb", "reddit", "twitch", "kik", "telegram", "m"}
)  # fmt: skip
_DOT_SPELLED = re.compile(r"\bdot\b")
_TLD_WORDS: Final = frozenset(f"{_TLDS_STRONG}|{_TLDS_WEAK}".split("|"))
_PATH_HINTS: Final = frozenset({"slash", "dot"}) | _SPACED_HOSTS


def _url_spans(line: _Line) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    text = line.folded.text
    words = line.words
    check = _PREFILTER
    if not check or "http" in text or "www" in text:
        for m in _URL_SCHEME.finditer(text):
            spans.append((m.start(), _trim_prose(text, m.start(), m.end())))
    if check and words.isdisjoint(_TLD_WORDS):
        return spans
    if not check or _DOT_TLD.search(text) is not None:
        spans.extend(_domain_spans(text))
    # A spaced dot is accepted only with a path, a known host or a spelled "dot" (see below).
    spaced = "dot" in words or _SPACED_DOT_HINT.search(text) is not None
    if not check or (spaced and ("/" in text or not words.isdisjoint(_PATH_HINTS))):
        spans.extend(_spaced_domain_spans(text))
    return spans


def _trim_prose(text: str, start: int, end: int) -> int:
    """A link's end without the sentence's own punctuation ("see www.site.net/x.")."""
    while end > start and text[end - 1] in ".,;:!?)]}'\"":
        end -= 1
    return end


def _domain_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _DOMAIN.finditer(text):
        tld = m.group("tld")
        host = text[m.start() : m.end("tld")]
        if re.fullmatch(_TLDS_WEAK, tld) and not m.group("path") and host not in _WEAK_HOSTS:
            continue
        spans.append((m.start(), _trim_prose(text, m.start(), m.end())))
    return spans


def _spaced_domain_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _DOMAIN_SPACED.finditer(text):
        spelled = _DOT_SPELLED.search(text, m.start(), m.end()) is not None
        first_label = re.match(r"[a-z0-9\-]+", m.group("host"))
        known = first_label is not None and first_label.group() in _SPACED_HOSTS
        strong = re.fullmatch(_TLDS_STRONG, m.group("tld")) is not None
        # "ok. me too" and "it was good. co-op" are sentences: a spaced plain dot needs a path
        # or a known short-link host; "X dot com" is unambiguous enough on its own.
        if m.group("path") or known or (spelled and strong):
            spans.append((m.start(), _trim_prose(text, m.start(), m.end())))
    return spans


# ---- handles and off-platform moves --------------------------------------------------------
# Matched on the folded text with leetspeak undone. Platform names are split in two: names that
# are not ordinary words (snap, insta, discord ...) work in every pattern; names that are also
# words or games (line, signal, roblox ...) only where the sentence itself is a move ("add me on
# line", "my roblox is ...").
_SOCIAL_NAMES: Final = (
    "snapchat", "snap", "sc", "instagram", "insta", "ig", "discord", "dc", "telegram", "tg",
    "whatsapp", "wa", "kik", "tiktok", "twitter", "fb", "facebook", "skype", "viber", "wechat",
    "reddit", "twitch", "onlyfans", "bereal", "imessage", "facetime", "messenger", "threema",
    "grindr", "tinder", "bumble", "omegle", "ometv", "yubo", "wizz",
)  # fmt: skip
_OTHER_NAMES: Final = (
    "line", "signal", "threads", "teams", "zoom", "tele", "disc", "steam", "xbox", "xbl", "psn",
    "playstation", "ps4", "ps5", "switch", "roblox", "fortnite", "epic", "minecraft", "valorant",
    "league", "youtube", "yt", "spotify", "pinterest", "tumblr", "vsco",
)  # fmt: skip
# Names that people also write as two words ("snap chat", "whats app").
_TWO_WORDS: Final = {
    "snapchat": ("snap", "chat"), "whatsapp": ("whats", "app"), "tiktok": ("tik", "tok"),
    "facebook": ("face", "book"), "wechat": ("we", "chat"), "onlyfans": ("only", "fans"),
    "facetime": ("face", "time"), "ometv": ("ome", "tv"),
}  # fmt: skip


_Trie = dict[str, "_Trie"]


def _names_pattern(names: Iterable[str]) -> str:
    """The names as one character trie ("s(?:nap(?:\\s?chat)?|c|kype)"): the regex engine
    walks a name once instead of trying sixty names in turn. Two-word names take an optional
    space; an optional tail is greedy, so the longer name wins ("snapchat" over "snap")."""
    trie: _Trie = {}
    for name in names:
        node = trie
        for char in " ".join(_TWO_WORDS.get(name, (name,))):
            node = node.setdefault(char, {})
        node[""] = {}  # a name ends here

    def emit(node: _Trie) -> str:
        branches = [
            (r"\s?" if char == " " else re.escape(char)) + emit(child)
            for char, child in sorted(node.items())
            if char
        ]
        if not branches:
            return ""
        if "" in node:
            return "(?:" + "|".join(branches) + ")?"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return "(?:" + emit(trie) + ")"


def _names_words(names: Iterable[str]) -> frozenset[str]:
    """Anchor words for platform names: the first token of each way of writing them."""
    words = set()
    for name in names:
        words.add(_TOKEN.findall(name)[0])  # "ps4" is the tokens "ps", "4"
        words.update(_TWO_WORDS.get(name, ()))
    return frozenset(words)


_PLATFORM_SOCIAL = _names_pattern(_SOCIAL_NAMES)
_PLATFORM_ANY = _names_pattern(_SOCIAL_NAMES + _OTHER_NAMES)
_PLATFORM_WORDS: Final = _names_words(_SOCIAL_NAMES + _OTHER_NAMES) | {"x"}
# What people ask for besides an account ("what's your number", "give me your email").
_CONTACT_WORDS = r"number|digits|phone|cell|mobile|e-?mail|socials?|user\s?name|gamertag|handle"
_CONTACT_ANCHORS: Final = _words(
    "number digits phone cell mobile email mail social socials username user gamertag handle"
)
_YOUR = r"(?:your|ur|yr|yur|you're|youre|u'?r)"
_YOU = r"(?:you|u|ya|yu)"
# What may follow a platform name when someone asks for it, so "what's your snap?" is a request
# and "what's your snap score" or "do you have snapchat filters" is not.
_NOT_A_REQUEST = (
    r"(?!\s*(?:score|streaks?|filters?|stor(?:y|ies)|reels?|videos?|posts?|feed|updates?|"
    r"music|bots?|emojis?|lens(?:es)?|favou?rite|trends?|dances?|memes?|ads?|games?|skins?|"
    r"avatar|mods?|graphics|notifications|one|model|case|brand|wallpaper|battery|screen|"
    r"plan|bill)\b)"
)
# A request said to the partner, not about a third person ("my mom will text me").
_TO_PARTNER = (
    r"(?:^|(?<=[.!?,;:]\s)|(?<=[.!?,;:])|\b(?:pls|please|plz|just|so|and|ok|okay|then|u\s+can|"
    r"you\s+can|can\s+u|can\s+you|or)\s+)"
)
# The move is the evidence: these are masked whether or not a user name follows.
_SOCIAL_WORDS: Final = _names_words(_SOCIAL_NAMES)
_HANDLE_MOVES: Final = (
    _rule(
        "|".join(
            (
                # "add me on snap", "hmu on discord", "dm me on insta", "add me: snap x"
                rf"\b(?:(?:add|message|msg|txt|text|follow|find|friend|ping|call|facetime|snap|"
                rf"look|dm|pm)\s+me|hmu|dm|pm|hit\s+me\s+up|sub(?:scribe)?\s+to\s+me)"
                rf"(?:\s+back)?(?:\s+up)?(?:\s+(?:on|at|in|via|thru|through|over|@)\s+|\s*[:\-]\s*)"
                rf"(?:my\s+)?(?:{_PLATFORM_ANY}|x)\b",
                # "add my snap", "follow my insta", "join my discord"
                rf"\b(?:add|follow|join|check\s+out|dm|message|text)\s+my\s+(?:{_PLATFORM_ANY}|x)\b"
                rf"{_NOT_A_REQUEST}",
            )
        ),
        _PLATFORM_WORDS,
        also="add message msg txt text follow find friend ping call facetime snap look dm pm hmu "
        "hit sub subscribe join check",
    ),
    _rule(
        "|".join(
            (
                # "come to telegram", "join me on discord", "move to whatsapp"
                rf"{_TO_PARTNER}(?:come|join\s+me|move|switch|go)\s+(?:over\s+)?(?:to|on)\s+"
                rf"{_PLATFORM_SOCIAL}\b",
                # "let's move to whatsapp", "we can chat on discord instead", "wanna vc on discord?"
                rf"\b(?:let'?s|lets|we\s+(?:can|could|should)|can\s+we|wanna|want\s+to|should\s+we|"
                rf"how\s+about\s+we|we\s+gotta|i'?ll)\s+(?:\w+\s+)?(?:move|talk|chat|continue|"
                rf"switch|go|text|call|vc|voice\s+chat|video\s+chat|video\s+call|message|dm|"
                rf"talk\s+more)\s+(?:to|on|over\s+to|over\s+on|in|via|over)\s+{_PLATFORM_SOCIAL}\b",
            )
        ),
        _SOCIAL_WORDS,
        also="come join move switch go talk chat continue text call vc voice video message dm",
    ),
    # "ur insta?", "your snap?"
    _rule(rf"\b{_YOUR}\s+{_PLATFORM_SOCIAL}\s*\?", _SOCIAL_WORDS, also_substrings=("?",)),
    # "what's your snap?", "give me your number", "send me your phone number", "ur @?"
    _rule(
        rf"\b(?:what'?s|whats|wats|what\s+is|wuts?|give\s+me|gimme|send\s+me|tell\s+me|"
        rf"drop|dm\s+me|can\s+i\s+(?:get|have))\s+{_YOUR}\s+(?:phone\s+|cell\s+|mobile\s+)?"
        rf"(?:(?:{_PLATFORM_ANY}|{_CONTACT_WORDS})\b(?:\s+(?:user\s?name|user|name|id|"
        rf"handle|tag|acc(?:ount)?|number|#|@))?{_NOT_A_REQUEST}|@(?!\w))",
        _PLATFORM_WORDS | _CONTACT_ANCHORS,
        ("@",),
        also="what whats wats wut wuts give gimme send tell drop dm can",
    ),
    # "do you have snapchat?", "u got snap?", "are you on insta?"
    _rule(
        rf"\b(?:do\s+{_YOU}\s+(?:have|use|got)|have\s+{_YOU}\s+got|{_YOU}\s+(?:got|have|use)|"
        rf"(?:are|r)\s+{_YOU}\s+on|{_YOU}\s+on)\s+(?:an?\s+)?{_PLATFORM_SOCIAL}\b"
        rf"(?=\s*(?:[?!.,]|$|\b(?:too|acc(?:ount)?|or|tho|though|then|rn|still|bro)\b))",
        _SOCIAL_WORDS,
        also="have use got on",
    ),
    # "snap me", "kik me", "whatsapp me"
    _rule(
        rf"\b{_PLATFORM_SOCIAL}\s+me\b(?!\s+(?:a\s+)?(?:filters?|lens))", _SOCIAL_WORDS, also="me"
    ),
    _rule(
        "|".join(
            (
                # "dm me", "text me": only as a request to the partner
                rf"{_TO_PARTNER}(?:dm|pm|text|txt)\s+me\b",
                # "lets facetime", "wanna vc?", "let's swap numbers"
                r"\b(?:let'?s|lets|wanna|can\s+we|we\s+can|we\s+could|should\s+we)\s+"
                r"(?:facetime|video\s?call|vc|snap|text|(?:exchange|swap|trade)\s+(?:numbers|"
                r"socials|snaps?|contacts|insta|discords?))\b",
            )
        ),
        "dm pm text txt facetime videocall video vc snap exchange swap trade",
    ),
)
# These name a platform and need a user name after them to mean anything: "my snap is x",
# "my insta: x", "my telegram @x", "sc: lily.x". "my discord is full of bots" is not a handle.
_HANDLE_NAMED: Final = (
    _rule(
        "|".join(
            (
                rf"\bmy\s+(?:{_PLATFORM_ANY}|x)(?:\s+(?:user\s?name|user|name|id|handle|tag|"
                rf"acc(?:ount)?))?(?=\s*(?:is\b|=|:|@|-\s)|\s+[a-z0-9_]*[0-9_.#][a-z0-9_.#]*\b)",
                # "my user on roblox is x", "my name in fortnite: x"
                rf"\bmy\s+(?:user\s?name|user|name|id|handle|tag|gamertag|acc(?:ount)?)\s+"
                rf"(?:on|in|for)\s+(?:{_PLATFORM_ANY}|x)\b(?=\s*(?:is\b|=|:|@|-\s))",
            )
        ),
        _PLATFORM_WORDS,
        also="my",
    ),
    _rule(
        rf"(?<![\w]){_PLATFORM_ANY}\s*(?::|=|-\s)",
        _PLATFORM_WORDS,
        also_substrings=(":", "=", "-"),
    ),
)
# "jake2008 is my snap", "@x is my ig": a handle-like token said to be a platform account.
_HANDLE_IS_MY: Final = _rule(
    rf"(?<![\w@])@?[a-z0-9_.#]{{2,32}}\s+(?:is|=)\s+my\s+{_PLATFORM_ANY}\b",
    _PLATFORM_WORDS,
    also="my",
)
# After "add me on snap" and the like: an optional "it's" / "my user is" / ":" and one token.
_HANDLE_TAIL = re.compile(
    r"\s{0,3}[:,=\-]?\s{0,3}(?:(?:it'?s|its|is|my\s+(?:user\s?name|user|id|name|tag|gamertag|"
    r"handle)(?:\s+is)?|user\s?name|user|id|name|tag|gamertag|handle)\s{0,3}[:=\-]?\s{0,3})?"
    r"(?P<handle>@?[a-z0-9_.#\-]{2,32})"
)
# Words that follow a platform name but are not a user name ("add me on snap if you want").
_NOT_HANDLES: Final = _words(
    """
    if pls please plz lol lmao haha and or so too then now ok okay k kk u you ur bro dude later
    maybe when rn instead tho though btw sometime tonight tomorrow cause because cuz coz bc i im
    it is my the a an to for with we yeah yes ya no nah thx thanks girl babe baby hun xd fr ngl
    tbh idk bruh anyway again first real quick also full down broken dead banned hacked private
    public boring fun cool good bad not very really gone deleted lagging new old empty weird
    what whats who how why where there here this that in on at of me us are be
    """
)
# A bare "@handle". Must hold a letter and must not be a time ("@5pm").
_AT_HANDLE = re.compile(r"(?<![\w@.])@(?=[a-z0-9_.]{0,29}[a-z])[a-z0-9_][a-z0-9_.]{1,29}")
_TIME = re.compile(r"@\d{1,2}(?::\d\d)?\s?(?:am|pm)?$")


def _tail_end(keywords: str, pos: int) -> int | None:
    """End of the user name that follows ``pos``, if one does."""
    tail = _HANDLE_TAIL.match(keywords, pos)
    if tail is None:
        return None
    raw = tail.group("handle")
    if not raw.strip(".-") or raw.strip(".-").lstrip("@") in _NOT_HANDLES:
        return None
    return tail.start("handle") + len(raw.rstrip(".-"))


def _handle_spans(line: _Line) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    keywords = line.keywords
    for rule in _HANDLE_MOVES:
        if line.admits(rule):
            for m in rule.pattern.finditer(keywords):
                spans.append((m.start(), _tail_end(keywords, m.end()) or m.end()))
    for rule in _HANDLE_NAMED:
        if line.admits(rule):
            for m in rule.pattern.finditer(keywords):
                end = _tail_end(keywords, m.end())
                if end is not None:
                    spans.append((m.start(), end))
    if line.admits(_HANDLE_IS_MY):
        for m in _HANDLE_IS_MY.pattern.finditer(keywords):
            token = m.group().split()[0]
            if token.lstrip("@") not in _NOT_HANDLES and (
                token.startswith("@") or any(c.isdigit() or c in "_.#" for c in token)
            ):
                spans.append((m.start(), m.end()))
    if "@" in line.folded.text:
        for m in _AT_HANDLE.finditer(line.folded.text):
            if _TIME.match(m.group()) is None:
                spans.append((m.start(), m.end()))
    return spans


def find_contacts(text: str) -> list[ContactSpan]:
    """Every span of ``text`` that holds contact details, in original-text indices, merged
    where they overlap (a merged span keeps the kinds of its parts, see :func:`mask_contacts`).
    Spans of one kind fully inside a span of another (the digits of "wa.me/6281...") are
    folded into the outer span and do not add their kind."""
    return [span for span, _ in _detect(text)]


def _detect(
    text: str, line: _Line | None = None
) -> list[tuple[ContactSpan, tuple[ContactKind, ...]]]:
    line = line or _prepare(text)
    f = line.folded
    raw: list[tuple[int, int, ContactKind]] = []
    for kind, spans in (
        ("email", _email_spans(line)),
        ("url", _url_spans(line)),
        ("phone", _phone_spans(line)),
        ("handle", _handle_spans(line)),
    ):
        raw.extend((s, e, kind) for s, e in spans if e > s)  # type: ignore[misc]
    if not raw:
        return []
    # Longest first at each start, so an outer span swallows the spans inside it.
    raw.sort(key=lambda t: (t[0], -t[1]))
    merged: list[tuple[int, int, list[ContactKind]]] = []
    for start, end, kind in raw:
        if merged and start < merged[-1][1]:
            last_start, last_end, kinds = merged[-1]
            if end > last_end and kind not in kinds:
                kinds.append(kind)  # a real overlap, not containment: both kinds are there
            merged[-1] = (last_start, max(last_end, end), kinds)
        else:
            merged.append((start, end, [kind]))
    out: list[tuple[ContactSpan, tuple[ContactKind, ...]]] = []
    for start, end, kinds in merged:
        o_start, o_end = f.span(start, end)
        ordered = tuple(k for k in CONTACT_KINDS if k in kinds)
        out.append((ContactSpan(o_start, o_end, ordered[0]), ordered))
    return out


def mask_contacts(text: str, *, placeholder: str = PLACEHOLDER) -> tuple[str, tuple[str, ...]]:
    """Hide contact details and off-platform moves in ``text``.

    Returns the masked text and the kinds hidden, in the order phone, email, url, handle
    ("handle" covers user names and requests to move elsewhere: "add me on snap", "what's your
    number"). Text without contact details is returned unchanged, the very same string.
    """
    return _apply_mask(text, _detect(text), placeholder)


def _apply_mask(
    text: str, found: list[tuple[ContactSpan, tuple[ContactKind, ...]]], placeholder: str
) -> tuple[str, tuple[str, ...]]:
    if not found:
        return text, ()
    pieces: list[str] = []
    kinds: set[str] = set()
    pos = 0
    for span, span_kinds in found:
        pieces.append(text[pos : span.start])
        pieces.append(placeholder)
        kinds.update(span_kinds)
        pos = span.end
    pieces.append(text[pos:])
    return "".join(pieces), tuple(k for k in CONTACT_KINDS if k in kinds)


# --------------------------------------------------------------------------------------------
# Grooming signals, scored over the whole conversation.
# --------------------------------------------------------------------------------------------


class Category(StrEnum):
    AGE = "age"  # age probing: "how old are you", "asl", "what grade are you in"
    IMAGES = "images"  # requests for images: "send pics", "turn on your cam"
    SECRECY = "secrecy"  # "don't tell your parents", "our secret", "delete this"
    ISOLATION = "isolation"  # "your parents don't understand you", "are you alone"
    MEETING = "meeting"  # "where do you live", "meet up", "what school"
    GIFTS = "gifts"  # "I'll buy you", "gift card", "robux"
    SEXUAL = "sexual"  # sexual talk
    OFFPLATFORM = "offplatform"  # contact details or a move elsewhere (see mask_contacts)


_Y = _YOU
_YR = r"(?:your|ur|yr|yur)"
_R = r"(?:are|r)"
_I_WILL = (
    r"(?:i'?ll|ill|i\s+will|i\s+can|i\s+could|i'?d|let\s+me|i'?m\s+gonna|im\s+gonna|i\s+gonna|"
    r"want\s+me\s+to|should\s+i)"
)
_GIFT_OBJECTS = (
    r"robux|v-?bucks|money|cash|gift\s?cards?|skins?|nitro|coins|gems|presents?|gifts?|something|"
    r"anything|stuff|phone|new\s+phone|clothes|game\s+pass|battle\s+pass|paypal|venmo|cashapp|"
    r"amazon|steam\s+card|premium"
)
_CARD_BRANDS = r"amazon\s+|steam\s+|roblox\s+|google\s+play\s+|itunes\s+|apple\s+|xbox\s+|psn\s+"
_PARENT_NAMES = (
    "parent parents mom mum mommy mother dad daddy father family folks guardian guardians"
)
_PARENT = rf"(?:{'|'.join(_PARENT_NAMES.split())})"
_WHO = rf"(?:{_PARENT}|any\s?one|any\s?body|no\s?one|nobody|friends?|teachers?|sister|brother)"

# Each category is a few rules; each rule lists the words that any of its matches contains.
_SIGNAL_RULES: Final[tuple[tuple[Category, _Rule], ...]] = (
    (
        Category.AGE,
        _rule(
            "|".join(
                (
                    # "how old are you", "how old r u", "u look young, how old" (not "how old is
                    # minecraft")
                    rf"\bhow\s+old\s+(?:{_R}\s+(?:{_Y}|ya)|{_Y}\s+{_R}|{_Y}\b|r\b)",
                    r"\bhow\s+old\s*(?:[?.!]|$)",
                    rf"\bhow\s+young\s+(?:{_R}|{_Y})\b|\bwhat\s+age\s+(?:{_R}|{_Y}|is\s+{_Y})\b",
                    r"\ba\s?/?s\s?/?l\b",
                    # "what grade are you in" (not "what grade did you get")
                    rf"\bwhat\s+grade\s+(?:{_R}\s+{_Y}|{_Y}|r\s+ya)\b|\bwhat\s+grade\s*(?:[?.!]|$)",
                    rf"\b{_R}\s+{_Y}\s+in\s+(?:year|grade|class|form|yr)\s+\d{{1,2}}\b",
                    rf"\b(?:what|which)\s+year\s+(?:were|was|r|are)\s+{_Y}\s+(?:born|in)\b",
                    rf"\bwhen\s+were\s+{_Y}\s+born\b",
                    rf"\bwhat'?s\s+{_YR}\s+age\b|\bwhat\s+is\s+{_YR}\s+age\b|\b{_YR}\s+age\s*\?",
                    rf"\bwhen'?s?\s+(?:is\s+)?{_YR}\s+(?:birthday|bday|b-day)\b",
                    rf"\b{_Y}\s+look\s+(?:so\s+|really\s+)?young\b",
                    rf"\b{_R}\s+{_Y}\s+(?:a\s+)?minor\b",
                )
            ),
            "old young age asl l sl grade year yr class form born birthday bday day minor",
        ),
    ),
    (
        Category.AGE,
        _rule(
            rf"\b{_R}\s+{_Y}\s+(?:(?:under|over|only|even|like|still|atleast|at\s+least)\s+)?1\d\b|"
            rf"\b{_Y}\s+1\d\s*(?:\?|or\s+1\d)|\b1\d\s+or\s+1\d\s*\?",
            [str(n) for n in range(10, 20)],
        ),
    ),
    (
        Category.AGE,
        _rule(
            rf"\b(?:{_R}\s+)?{_Y}\s+(?:still\s+)?in\s+(?:middle|high|elementary|primary|"
            rf"secondary|junior|grade)\s*school",
            (),
            ("school",),
        ),
    ),
    (
        Category.AGE,
        _rule(r"\b(?:m|f)\s+or\s+(?:m|f)\b|\b(?:boy|girl)\s+or\s+(?:a\s+)?(?:boy|girl)\b", "or"),
    ),
    (
        Category.IMAGES,
        _rule(
            "|".join(
                (
                    # "send pics", "send me a pic" (not "can you send a pic of the homework", not
                    # "i can't send pics here")
                    rf"\bsend(?<!can't\ssend)(?<!cant\ssend)(?<!cannot\ssend)(?<!not\ssend)\s+"
                    rf"(?:me\s+)?(?:a\s+|some\s+|more\s+|ur\s+|your\s+|any\s+|another\s+)?"
                    rf"(?:pic|pics|pix|picture|pictures|photo|photos|selfie|selfies|nudes?|vids?|"
                    rf"videos?)\b(?!\s+of\s+(?!{_Y}\b|yourself|urself|{_YR}\s))",
                    rf"\b(?:pic|pics|photo|photos|picture|pictures|selfie|selfies|vid|video)\s+of\s+"
                    rf"(?:{_Y}|yourself|urself|{_YR}\s+(?:self|body|face))\b",
                    r"\b(?:got|have|any)\s+(?:any\s+)?(?:more\s+)?(?:pics|selfies|photos|pictures|"
                    r"nudes)\s*\?",
                    r"\b(?:pics?|selfies?)\s+(?:pls|plz|please|now)\b|^\s*(?:pics?|selfie)\s*\?",
                    r"\bpic\s*(?:for|4|a)\s*pic\b|\b(?:trade|swap|exchange)\s+(?:pics|pictures|"
                    r"photos|selfies)\b",
                    rf"\b(?:do|have)\s+{_Y}\s+(?:have|got)\s+(?:any\s+)?(?:pics|photos|pictures|"
                    rf"selfies)\b",
                    r"\btake\s+a\s+(?:pic|photo|picture|selfie)\s+(?:in|for|of\s+(?:you|yourself|"
                    r"urself))\b",
                )
            ),
            "pic pics pix picture pictures photo photos selfie selfies nude nudes vid vids video "
            "videos picapic picforpic",
        ),
    ),
    (
        Category.IMAGES,
        _rule(
            "|".join(
                (
                    # bare "show me", "show me what you look like", "show me your body"
                    rf"\bshow\s+me(?:\s*(?:[?!.,]|$)|\s+(?:what\s+{_Y}\s+look|{_YR}\s+(?:body|face|"
                    rf"self|boobs|tits|chest|legs|feet|butt|ass|bra|outfit|room)|yourself|urself|"
                    rf"more\b|{_Y}\b|(?:a\s+)?(?:pic|pics|photo|picture)\s+of\s+(?:{_Y}|yourself|"
                    rf"urself)\b))",
                    rf"\bshow\s+(?:yourself|urself|{_YR}\s+(?:face|body|self))\b",
                    rf"\b(?:see|show\s+me)\s+{_YR}\s+(?:face|body|pics?|photos?|outfit|legs|feet|"
                    rf"room)\b",
                    rf"\blet\s+me\s+see\s+(?:{_Y}\b|yourself|urself|{_YR}\s)",
                    rf"\b(?:i\s+)?(?:want|wanna|wana)\s+(?:to\s+)?see\s+(?:{_Y}\b|yourself|urself)",
                    rf"\bwhat\s+do\s+{_Y}\s+look\s+like|\bhow\s+do\s+{_Y}\s+look\b",
                    rf"\bturn\s+on\s+(?:{_YR}\s+|the\s+|ya\s+)?(?:cam|camera|webcam|video)\b",
                    rf"\b(?:turn|put|switch|flip)\s+(?:{_YR}\s+|the\s+)?(?:cam|camera|webcam|video)"
                    rf"\s+on\b",
                    r"\b(?:get|go|hop)\s+on\s+(?:cam|camera|video)\b",
                )
            ),
            "show see look cam camera webcam video",
        ),
    ),
    (
        Category.SECRECY,
        _rule(
            "|".join(
                (
                    rf"\b(?:don'?t|dont|do\s+not|never|dnt)\s+tell\s+(?:{_YR}\s+|ya\s+)?{_WHO}",
                    r"\bour\s+(?:little\s+)?secret\b(?!\s+(?:santa|levels?|recipe|handshake|code|"
                    r"base|hideout|menu|room|door|passage|area|boss|ending))",
                    r"\b(?:this|it)\s*(?:is|'s|s|will\s+be|'?ll\s+be|ll\s+be)\s+(?:our|a)\s+"
                    r"(?:little\s+)?secret\b(?!\s+(?:santa|recipe|handshake))",
                    r"\bkeep\s+(?:a|this|it|that|us|me)\s+(?:a\s+)?secret\b",
                    r"\bkeep\s+(?:this|it|that|us)\s+(?:between\s+us|to\s+yourself|quiet|private|"
                    r"on\s+the\s+dl)",
                    r"\b(?:just\s+)?between\s+(?:you\s+and\s+me|u\s+and\s+me|us)\s*(?:[?!.,]|$|ok|"
                    r"okay)",
                    r"\b(?:delete|erase|wipe|clear)\s+(?:this|these|that|the|our|ur|your|all|my)?"
                    r"\s*(?:chat|chats|messages?|msgs?|convo|conversation|texts?|history|pics?|"
                    r"photos?|dms?)\b",
                    r"\b(?:delete|erase|wipe)\s+(?:this|it|that)\s*(?:[.!?,]|$|\bafter|\blater|"
                    r"\bwhen|\bnow|\bok|\bpls)",
                    rf"\bclear\s+(?:{_YR}\s+|the\s+)?(?:history|chat|messages|browser|search)",
                    r"\b(?:use|go|open|turn\s+on)\s+(?:an?\s+)?incognito\b",
                    rf"\b(?:hide|hidden)\s+(?:this|it|the\s+chat|our\s+chat)\s+from\s+"
                    rf"(?:{_YR}\s+)?{_WHO}",
                    r"\b(?:this|it|that)\s+(?:stays|stay|remains)\s+(?:between\s+us|secret|private)",
                )
            ),
            "tell secret keep between stays stay remains delete erase wipe clear incognito hide "
            "hidden",
        ),
    ),
    (
        Category.SECRECY,
        _rule(
            "|".join(
                (
                    r"\b(?:no\s?one|nobody|no\s+body)\s+(?:needs?|has|have|should|is\s+going)\s+to\s+"
                    r"(?:know|find\s+out)\b",
                    rf"\bmake\s+sure\s+(?:{_YR}\s+)?{_WHO}\s+(?:doesn'?t|dont|don'?t|never|won'?t|"
                    rf"can'?t)?\s*(?:sees?|knows?|finds?\s+out|reads?|checks?)",
                    rf"\b(?:{_YR}\s+)?{_WHO}\s+(?:can'?t|cant|cannot|can\s+not|mustn'?t|must\s+not|"
                    rf"shouldn'?t|should\s+not|won'?t|wont|never)\s+(?:ever\s+)?(?:know|find\s+out|"
                    rf"see\s+this|hear\s+about)\b",
                )
            ),
            "know find sure see hear",
        ),
    ),
    (
        Category.ISOLATION,
        _rule(
            "|".join(
                (
                    rf"\b{_YR}\s+(?:{_PARENT}|friends)\s+(?:don'?t|dont|do\s+not|never|doesn'?t|"
                    rf"will\s+never|won'?t|can'?t|cant)\s+(?:really\s+)?(?:understand|get|care|"
                    rf"appreciate|deserve|listen|love)",
                    rf"\b(?:i|only\s+i)\s+(?:understand|get)s?\s+{_Y}\s+(?:better|more)\b",
                    rf"\b{_R}\s+{_Y}\s+(?:home\s+)?alone\b|\b{_R}\s+{_Y}\s+(?:by\s+)?(?:yourself|"
                    rf"urself)\b",
                    rf"\b{_R}\s+{_Y}\s+in\s+{_YR}\s+room\s+alone\b|\b{_R}\s+{_Y}\s+alone\s+in\s+"
                    rf"{_YR}\s+room",
                    rf"\bis\s+(?:any\s?one|any\s?body|some\s?one|some\s?body)\s+(?:else\s+)?(?:home|"
                    rf"there|with\s+{_Y}|around|watching|in\s+the\s+room|near\s+{_Y})",
                    rf"\b(?:is|are|{_R})\s+{_YR}\s+{_PARENT}\s+(?:home|there|around|awake|asleep|"
                    rf"out|away|strict|watching|at\s+work|gone)",
                    rf"\b{_YR}\s+{_PARENT}\s+(?:sound|seem|are|r|is)\s+(?:so\s+|really\s+|super\s+)?"
                    rf"(?:strict|mean|controlling|annoying|overprotective|unfair|toxic|crazy)",
                    rf"\bwhere\s+{_R}\s+{_YR}\s+{_PARENT}\b",
                    rf"\b{_YR}\s+friends\s+(?:are|r)\s+(?:so\s+|really\s+)?(?:immature|fake|"
                    rf"childish|boring|lame|jealous|bad\s+for)",
                    rf"\bonly\s+(?:one|person)\s+(?:who|that)\s+(?:really\s+)?(?:understands|gets|"
                    rf"cares\s+about|loves)\s+{_Y}\b",
                    rf"\b(?:get|gets|understand|understands|know|knows|love|loves|care\s+about|"
                    rf"cares\s+about|treat|treats)\s+{_Y}\s+like\s+(?:i\s+do|me)\b",
                    rf"\b{_Y}\s+can\s+(?:only\s+)?trust\s+(?:me|only\s+me)\b",
                    rf"\b(?:do|does)\s+{_YR}\s+{_PARENT}\s+(?:ever\s+)?(?:check|read|look\s+at|"
                    rf"go\s+through|monitor|see)\s+{_YR}\s+(?:phone|messages|texts|chats|computer)",
                    rf"\b(?:they|{_YR}\s+{_PARENT})\s+(?:wouldn'?t|wouldnt|won'?t|wont|"
                    rf"would\s+never|will\s+never)\s+understand\b",
                )
            ),
            _PARENT_NAMES
            + " friends understand understands get gets alone yourself urself anyone anybody"
            " someone somebody any some only like trust",
        ),
    ),
    (
        Category.MEETING,
        _rule(
            "|".join(
                (
                    rf"\bwhere\s+(?:do\s+|d\s+)?{_Y}\s+(?:live|stay)\b(?!\s+in\s+(?:the\s+)?game)",
                    rf"\b{_R}\s+{_Y}\s+(?:near|close\s+to)\b(?!\s+(?:the\s+)?(?:end|finish|done|"
                    rf"level|boss|top|goal))",
                    rf"\bwhere\s+{_R}\s+{_Y}\s+(?:located|staying|based)\b",
                    rf"\bwhat\s+(?:city|town|state|area|neighbou?rhood|street|part\s+of\s+town)\s+"
                    rf"(?:do|are|r|d)\s+{_Y}\b",
                    r"\b(?:let'?s|lets|we\s+(?:should|could|can|gotta)|wanna|want\s+to|can\s+we|"
                    r"should\s+we)\s+(?:meet|hang\s?out|link\s+up|see\s+each\s+other|meetup)"
                    r"(?:\s+up)?\b(?!\s+(?:the|my|our|his|her|their|a|an|new|people|friends|"
                    r"deadlines?|requirements?|expectations|goals?)\b)(?!\s+(?:in|at|on)\s+"
                    r"(?:the\s+|a\s+)?(?:game|lobby|arena|server|match|map|spawn|base|discord|call|"
                    r"fortnite|minecraft|roblox))",
                    r"\bmeet\s+(?:up\s+)?(?:irl|in\s+real\s+life|in\s+person|face\s+to\s+face)",
                    r"\bhang\s?out\s+(?:irl|in\s+person|in\s+real\s+life)",
                    rf"\bpick\s+{_Y}\s+up\b|\bcome\s+(?:to|over\s+to|and\s+see|see)\s+{_Y}\b",
                    rf"\bcome\s+(?:to|over\s+to)\s+{_YR}\s+(?:town|city|house|place|school|area|"
                    rf"home)",
                    rf"\bi\s*(?:could|can|will|'ll|ll)\s+(?:drive|come|walk|take\s+a\s+bus|visit)\s+"
                    rf"(?:over|there|to\s+{_Y}|{_Y}\b|to\s+{_YR})",
                    r"\b(?:what|which)\s+school\b(?!\s+(?:subjects?|work|clubs?|supplies|lunch|"
                    r"sports?|events?|stuff|things|year|shows?|games?|uniform))",
                    rf"\bwhat'?s\s+the\s+name\s+of\s+{_YR}\s+school\b|\b{_YR}\s+school'?s\s+name\b|"
                    rf"\b{_YR}\s+school\s+called\b|\bwhat'?s\s+{_YR}\s+school\s*(?:\?|$)|"
                    rf"\bwhat\s+is\s+{_YR}\s+school\b",
                    rf"\b(?:send|give|tell|dm)\s+me\s+{_YR}\s+(?:address|addy|location|zip|postcode|"
                    rf"post\s+code)\b|\bwhat'?s\s+{_YR}\s+(?:address|addy|location|zip)\b|"
                    rf"\bwhat\s+is\s+{_YR}\s+address\b",
                    rf"\b(?:which|what)\s+(?:mall|park|store|street|bus\s+stop|station)\s+do\s+"
                    rf"{_Y}\s+(?:go|hang|live)",
                    rf"\bi\s+live\s+(?:near|close\s+to|by)\s+(?:{_Y}\b|there|{_YR})",
                )
            ),
            "live stay located staying based near close city town state area neighbourhood "
            "neighborhood street part meet meetup hang hangout link see irl real person face pick "
            "come drive walk take visit school schools address addy location zip postcode post "
            "mall park store bus station",
        ),
    ),
    (
        Category.GIFTS,
        _rule(
            "|".join(
                (
                    # "i'll buy you ...": buying for a stranger is a gift, whatever the object
                    rf"\b{_I_WILL}\s+(?:buy|pay\s+for)\s+(?:{_Y}|ya|{_YR})\b",
                    # send/give/get only with a gift-like object ("i'll send you the link" is not)
                    rf"\b{_I_WILL}\s+(?:get|give|send|gift)\s+(?:{_Y}|ya)\s+(?:a\s+|an\s+|some\s+|"
                    rf"free\s+|\d+\s+|the\s+|a\s+new\s+|discord\s+)?(?:{_GIFT_OBJECTS})\b",
                    r"\bwant\s+(?:free|some)\s+(?:robux|v-?bucks|nitro|skins|gift\s?cards?|money|"
                    r"cash)\b",
                    rf"\b(?:do\s+)?{_Y}\s+want\s+(?:an?\s+|some\s+|free\s+)?(?:{_CARD_BRANDS})?"
                    rf"(?:gift\s?cards?|robux|v-?bucks|nitro|money|cash|skins)\b",
                    r"\bfree\s+(?:robux|v-?bucks|nitro)\b",
                    rf"\bwant\s+(?:an?\s+|some\s+|free\s+)?(?:{_CARD_BRANDS})?(?:robux|v-?bucks|"
                    rf"nitro|gift\s?cards?|skins)\s*\?",
                    rf"\b(?:i'?ll|ill|i\s+will|i\s+can|i\s+could)\s+pay\s+{_Y}\b",
                    rf"\bi\s+(?:got|bought|have|'?ve\s+got)\s+(?:{_Y}|ya)\s+(?:a\s+|an\s+|some\s+)?"
                    rf"(?:presents?|gifts?|surprise|robux|v-?bucks|nitro|something)\b",
                    rf"\b(?:a\s+)?(?:present|gift|surprise)\s+for\s+{_Y}\b",
                    rf"\b(?:i'?ll|ill|i\s+will|i\s+can)\s+(?:venmo|paypal|cashapp|cash\s+app)\s+"
                    rf"{_Y}\b",
                )
            ),
            "buy pay venmo paypal cashapp cash robux vbucks bucks money gift gifts giftcard "
            "giftcards card cards skin skins nitro coins gems present presents something anything "
            "stuff phone clothes pass amazon steam premium surprise",
        ),
    ),
    (
        Category.SEXUAL,
        _rule(
            "|".join(
                (
                    rf"\b{_R}\s+{_Y}\s+(?:a\s+|still\s+a\s+)?virgin\b",
                    rf"\b(?:have|did|ever)\s+{_Y}\s+(?:ever\s+)?(?:had\s+sex|kissed|been\s+kissed|"
                    rf"done\s+it|made\s+out|been\s+touched|touched\s+(?:yourself|urself))\b",
                    rf"\bwhat\s+{_R}\s+{_Y}\s+wearing\b(?!\s+(?:to|for|at|on|tomorrow|tonight)\b)",
                    r"\b(?:you'?re|youre|ur|u\s+r|you\s+are|u\s+are)\s+(?:so\s+|really\s+|very\s+|"
                    r"kinda\s+|so+\s+)?(?:sexy|hot|thicc|horny)\b",
                    rf"\b(?:do|did)\s+{_Y}\s+(?:ever\s+)?(?:touch|play\s+with|finger)\s+(?:yourself|"
                    rf"urself)",
                    r"\bmasturbat|\bjerk(?:ing)?\s+off\b|\bsext(?:ing)?\b|\bnudes?\b|\bnaked\b|"
                    r"\bhorny\b|\bboobs?\b|\btits\b|\bpussy\b|\bcock\b|\bpenis\b|\bvagina\b|\bcum\b|"
                    r"\borgasm|\bthong\b",
                    rf"\bbra\s+size|\b{_R}\s+{_Y}\s+wearing\s+(?:a\s+|any\s+|{_YR}\s+)?(?:bra|"
                    rf"panties|underwear|anything|pajamas|pyjamas|pjs|clothes)",
                    rf"\b{_Y}\s+(?:have|got)\s+(?:a\s+|such\s+a\s+)?(?:nice|hot|sexy|great|amazing|"
                    rf"perfect)\s+(?:body|butt|ass|legs|boobs|chest|figure)\b",
                    r"\btalk\s+dirty|\bdirty\s+talk|\bturn(?:s|ed)?\s+me\s+on\b",
                    r"\bi'?m\s+(?:so\s+)?hard\b(?!\s+stuck)(?=\s*(?:[.!?,]|$|\bfor\b|\brn\b|\bnow\b|"
                    r"\bthinking))",
                    r"\bkiss\s+(?:you|u|ya)\s+all\s+over|\b(?:have|had|having)\s+sex\b|"
                    r"\bsex\b(?!\s+ed\b|\s+education)",
                    rf"\bshow\s+me\s+{_YR}\s+(?:body|boobs|tits|chest|butt|ass|bra)\b",
                    r"\bsend\s+(?:me\s+)?(?:something|smth|sth)\s+(?:hot|sexy|spicy|naughty|dirty)\b",
                    r"\b(?:spicy|naughty|dirty)\s+(?:pics?|photos?|pictures?|selfies?|stuff|things)\b",
                    rf"\b{_YR}\s+(?:body|legs|butt|ass|lips|boobs|chest|thighs)\s+(?:is|are|r|looks?)"
                    rf"\s+(?:so\s+|really\s+|very\s+)?(?:hot|sexy|nice|thicc|amazing|perfect|fine)\b",
                    r"\bdo\s+(?:stuff|it|naughty\s+things|dirty\s+things)\s+with\s+me\b",
                )
            ),
            "virgin sex kissed done made touched wearing sexy hot thicc horny touch play finger "
            "jerk jerking sext sexting nude nudes naked boob boobs tits pussy cock penis vagina "
            "cum thong bra talk dirty turn turns turned hard kiss body butt ass chest legs lips "
            "thighs figure something smth sth spicy naughty stuff it",
            ("masturbat", "orgasm"),
        ),
    ),
)


def _line_signals(
    text: str, *, contacts: bool, line: _Line | None = None
) -> list[tuple[Category, int, int]]:
    """The categories a single line carries, each with its first matching span (original text
    indices). Off-platform counts when the line holds contact details or a move elsewhere."""
    line = line or _prepare(text)
    found: list[tuple[Category, int, int]] = []
    seen: set[Category] = set()
    for category, rule in _SIGNAL_RULES:
        if category in seen or not line.admits(rule):
            continue
        m = rule.pattern.search(line.keywords)
        if m is not None:
            seen.add(category)
            found.append((category, *line.folded.span(m.start(), m.end())))
    if contacts:
        spans = _detect(text, line)
        if spans:
            found.append((Category.OFFPLATFORM, spans[0][0].start, spans[0][0].end))
    return found


def signal_categories(text: str, *, contacts: bool = True) -> frozenset[Category]:
    """The grooming-signal categories that one line carries, on its own."""
    return frozenset(category for category, _, _ in _line_signals(text, contacts=contacts))


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """How signals add up. The defaults are tuned on the conversations in ``tests/data/``.

    A category's *level* rises by 1 with each line that hits it and halves every
    ``half_life_lines`` lines of the conversation (both sides count). Its contribution is its
    weight times ``min(level, 1) + repeat_bonus * min(level - 1, repeat_cap)``: repeating one
    category adds a little, up to ``1 + repeat_bonus * repeat_cap`` times its weight. The sum is
    multiplied by ``1 + diversity_bonus * (active - 1)``, where ``active`` counts categories with
    a level of at least ``active_level``: several distinct categories weigh more than one
    repeated. With the defaults, one line of a single category never crosses the threshold,
    and only sexual talk, repeated five times, crosses it alone.
    """

    threshold: float = 6.0
    half_life_lines: float = 60.0
    repeat_bonus: float = 0.3
    repeat_cap: float = 4.0
    diversity_bonus: float = 0.3
    active_level: float = 0.5
    evidence_per_side: int = 16
    excerpt_chars: int = 80
    weights: Mapping[Category, float] = field(
        default_factory=lambda: {
            Category.AGE: 1.0,
            Category.IMAGES: 2.0,
            Category.SECRECY: 2.5,
            Category.ISOLATION: 2.0,
            Category.MEETING: 2.0,
            Category.GIFTS: 1.5,
            Category.SEXUAL: 3.0,
            Category.OFFPLATFORM: 1.5,
        }
    )


@dataclass(frozen=True, slots=True)
class RiskHit:
    """One line that carried a signal: evidence for the moderator. ``excerpt`` is the matched
    phrase (not the whole line), cut to ``RiskPolicy.excerpt_chars``."""

    side: int
    category: Category
    line_no: int
    excerpt: str


@dataclass(frozen=True, slots=True)
class RiskAlert:
    """The score of ``side`` crossed the threshold at line ``line_no``. The server prompts the
    *other* side (the young person being talked to) and flags the conversation for review."""

    side: int
    score: float
    line_no: int
    categories: Mapping[Category, int]
    evidence: tuple[RiskHit, ...]


_CATEGORIES: Final = tuple(Category)
_INDEX: Final = {category: i for i, category in enumerate(_CATEGORIES)}


class _SideState:
    __slots__ = ("alerted", "counts", "evidence", "levels", "stamps")

    def __init__(self, evidence_cap: int) -> None:
        n = len(_CATEGORIES)
        self.levels = [0.0] * n  # decayed level per category, as of stamps[i]
        self.stamps = [0] * n  # line number at which levels[i] was last brought up to date
        self.counts = [0] * n  # raw hits per category, for the moderator
        self.evidence: deque[RiskHit] = deque(maxlen=evidence_cap)
        self.alerted = False


class ConversationRisk:
    """Grooming-signal score of one pair, per side, over the whole conversation.

    Bounded state: per side, three numbers per category and at most
    ``policy.evidence_per_side`` short excerpts. Nothing else of the conversation is kept.
    Sides are 0 and 1 (the gateway maps its two sessions to them).

    The excerpts are the matched phrases only ("don't tell your parents"), not whole lines.
    They live in memory with the pair (docs/design.md invariant 5): dropped when the pair ends
    unflagged and unreported, and written only as the evidence of a flag or a report.
    """

    __slots__ = ("_decay", "_line_no", "_sides", "_weights", "policy")

    def __init__(self, policy: RiskPolicy | None = None) -> None:
        self.policy = policy or RiskPolicy()
        self._decay = math.log(2) / max(self.policy.half_life_lines, 1e-9)
        self._weights = [self.policy.weights.get(c, 0.0) for c in _CATEGORIES]
        self._sides = (
            _SideState(self.policy.evidence_per_side),
            _SideState(self.policy.evidence_per_side),
        )
        self._line_no = 0

    @property
    def lines(self) -> int:
        """How many lines have been fed, both sides."""
        return self._line_no

    def feed(
        self, line: str, from_side: int, *, contact_kinds: Sequence[str] | None = None
    ) -> RiskAlert | None:
        """Score one line from ``from_side``. Returns an alert the first time that side's score
        reaches the threshold, else ``None``.

        ``contact_kinds`` is what :func:`mask_contacts` found in the line, when the caller has
        already masked it (saves a second scan); ``None`` makes ``feed`` look for itself.
        """
        return self._feed(line, from_side, contact_kinds, None)

    def _feed(
        self, line: str, from_side: int, contact_kinds: Sequence[str] | None, prepared: _Line | None
    ) -> RiskAlert | None:
        if from_side not in (0, 1):
            raise ValueError("from_side must be 0 or 1")
        self._line_no += 1
        signals = _line_signals(line, contacts=contact_kinds is None, line=prepared)
        if contact_kinds:
            signals.append((Category.OFFPLATFORM, 0, 0))
        if not signals:
            return None
        state = self._sides[from_side]
        seen: set[Category] = set()
        for category, start, end in signals:
            if category in seen:
                continue
            seen.add(category)
            i = _INDEX[category]
            state.levels[i] = self._level(state, i) + 1.0
            state.stamps[i] = self._line_no
            state.counts[i] += 1
            excerpt = line[start:end][: self.policy.excerpt_chars] if end > start else ""
            state.evidence.append(RiskHit(from_side, category, self._line_no, excerpt))
        if state.alerted:
            return None
        score = self.score(from_side)
        if score < self.policy.threshold:
            return None
        state.alerted = True
        return RiskAlert(
            side=from_side,
            score=round(score, 3),
            line_no=self._line_no,
            categories=self.category_hits(from_side),
            evidence=tuple(state.evidence),
        )

    def _level(self, state: _SideState, i: int) -> float:
        level = state.levels[i]
        if level == 0.0:
            return 0.0
        return level * math.exp(-self._decay * (self._line_no - state.stamps[i]))

    def score(self, side: int) -> float:
        """The current score of ``side`` (decayed to the latest line)."""
        p = self.policy
        state = self._sides[side]
        total = 0.0
        active = 0
        for i, weight in enumerate(self._weights):
            level = self._level(state, i)
            if level <= 0.0:
                continue
            if level >= p.active_level:
                active += 1
            total += weight * (
                min(level, 1.0) + p.repeat_bonus * min(max(level - 1.0, 0.0), p.repeat_cap)
            )
        return total * (1.0 + p.diversity_bonus * max(active - 1, 0))

    def category_hits(self, side: int) -> dict[Category, int]:
        """Raw hits per category for ``side`` (not decayed): what the moderator sees."""
        state = self._sides[side]
        return {c: state.counts[i] for i, c in enumerate(_CATEGORIES) if state.counts[i]}

    def evidence(self, side: int | None = None) -> list[RiskHit]:
        """The kept excerpts, oldest first, of one side or both (merged by line number)."""
        sides = self._sides if side is None else (self._sides[side],)
        hits = [hit for state in sides for hit in state.evidence]
        hits.sort(key=lambda h: h.line_no)
        return hits

    def flagged(self, side: int) -> bool:
        """Whether ``side`` has crossed the threshold in this conversation."""
        return self._sides[side].alerted

    def snapshot(self) -> dict[str, object]:
        """A JSON-friendly summary for a report or the moderator console."""
        return {
            "lines": self._line_no,
            "threshold": self.policy.threshold,
            "sides": [
                {
                    "side": side,
                    "score": round(self.score(side), 3),
                    "flagged": self._sides[side].alerted,
                    "categories": {str(c): n for c, n in self.category_hits(side).items()},
                    "evidence": [
                        {"line": h.line_no, "category": str(h.category), "excerpt": h.excerpt}
                        for h in self._sides[side].evidence
                    ],
                }
                for side in (0, 1)
            ],
        }


@dataclass(frozen=True, slots=True)
class Screened:
    """What :func:`screen_line` decided about one line."""

    text: str  # the line to deliver (masked when asked to, else the line itself)
    kinds: tuple[str, ...]  # contact kinds found (and hidden, when masking): tell the sender
    alert: RiskAlert | None  # set once per side, when its grooming score crosses the threshold


def screen_line(
    text: str,
    *,
    mask: bool,
    risk: ConversationRisk | None = None,
    from_side: int = 0,
    placeholder: str = PLACEHOLDER,
) -> Screened:
    """Mask (if ``mask``) and score (if ``risk``) one line, folding and scanning it only once.

    The gateway's one call per relayed line: ``mask`` is true for the minor pool, ``risk`` is the
    pair's :class:`ConversationRisk`. Same results as :func:`mask_contacts` followed by
    :meth:`ConversationRisk.feed` with ``contact_kinds``; the line is folded and split into
    words once instead of twice, which saves roughly a tenth of the time.
    """
    prepared = _prepare(text)
    found = _detect(text, prepared)
    kinds = tuple(k for k in CONTACT_KINDS if any(k in ks for _, ks in found))
    out = _apply_mask(text, found, placeholder)[0] if mask else text
    alert = None if risk is None else risk._feed(text, from_side, kinds, prepared)
    return Screened(out, kinds, alert)
