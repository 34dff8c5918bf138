"""Folding: one canonical lower-case Latin form per line, with a map back to the original.

Also leetspeak, the rules' anchor words, and the prepared line (:class:`_Line`) that contact
detection and the grooming signals both read, so that a line is folded and split only once.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from parley.safety.text.affixes import IndonesianForm, indonesian_form

# Look-alikes that NFKC leaves alone. Only letters that pass for Latin ones in ordinary fonts:
# the goal is to defeat "аdd me on snаp" (Cyrillic а), not to transliterate other scripts.
_CONFUSABLE_PAIRS = (
    "аa вb еe ёe кk мm нh оo рp сc тt уy хx іi їi јj ѕs ԁd ԛq ԝw һh ɡg ɑa οo αa εe ιi κk νv ρp τt "
    "υu χx ωw ‘' ’' ʼ' ＇' ´' `' ‐- ‑- ‒- –- —- −-"
)
_CONFUSABLES: Final = str.maketrans({pair[0]: pair[1] for pair in _CONFUSABLE_PAIRS.split()})
# Marks and invisible format characters (zero-width joiners, soft hyphens) are dropped, so
# "s\u200bnap" and "z̲e̲r̲o̲" read as "snap" and "zero". Accents are marks once decomposed (NFKD):
# Spanish "número", "¿estás sola?" and "años" read as "numero", "estas sola" and "anos", so one
# spelling of each word serves, however the sender typed it.
_DROPPED_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf"})


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    digit = unicodedata.decimal(char, None)
    if digit is not None:  # Arabic-Indic, Devanagari, fullwidth, mathematical bold, ... digits
        return str(digit)
    out = []
    for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", char).casefold()):
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
# a result; tests/unit/test_text_filter.py checks that on the corpora and on generated text, with
# this switch off.
_PREFILTER = True
# The languages whose rules run; ``None`` is all of them, as in production. Only the language
# choice measurement (tests/harness/text_quality.py) narrows it, to score picking one language
# per line against trying them all.
_LANGUAGES: frozenset[str] | None = None
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
    lang: str = "en"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _rule(
    pattern: str,
    words: Iterable[str] | str,
    substrings: tuple[str, ...] = (),
    *,
    also: str = "",
    also_substrings: tuple[str, ...] = (),
    lang: str = "en",
) -> _Rule:
    anchors = _words(words) if isinstance(words, str) else frozenset(words)
    return _Rule(re.compile(pattern), anchors, substrings, _words(also), also_substrings, lang)


@dataclass(frozen=True, slots=True)
class _Line:
    """One line, prepared once: folded, leetspeak undone (``keywords``), and its words; and,
    for the Indonesian rules, the line with its words read back to their roots (``indonesian``,
    see :mod:`.affixes`; ``None`` when that is the line itself)."""

    folded: _Folded
    keywords: str
    words: frozenset[str]
    indonesian: IndonesianForm | None = None

    def text_for(self, rule: _Rule) -> str:
        """The text ``rule`` reads: the Indonesian form for Indonesian rules."""
        if rule.lang == "id" and self.indonesian is not None:
            return self.indonesian.text
        return self.keywords

    def span_for(self, rule: _Rule, start: int, end: int) -> tuple[int, int]:
        """A span of :meth:`text_for` as a span of ``keywords`` (and so of the folded text)."""
        if rule.lang == "id" and self.indonesian is not None:
            return self.indonesian.span(start, end)
        return start, end

    def admits(self, rule: _Rule) -> bool:
        if _LANGUAGES is not None and rule.lang not in _LANGUAGES:
            return False
        if not _PREFILTER:
            return True
        words, text = self.words, self.keywords
        if rule.lang == "id" and self.indonesian is not None:
            words, text = self.indonesian.words, self.indonesian.text
        if rule.words.isdisjoint(words) and not (
            rule.substrings and any(s in text for s in rule.substrings)
        ):
            return False
        if not rule.also and not rule.also_substrings:
            return True
        return not rule.also.isdisjoint(words) or any(s in text for s in rule.also_substrings)


class _RuleIndex:
    """Rules by anchor word, so a line looks only at the rules one of its words can wake rather
    than asking each of sixty rules in turn (the per-rule check, not the regexes, was most of
    the cost once four languages' rules were loaded). Same results as checking every rule."""

    __slots__ = ("_always", "_by_word", "rules")

    def __init__(self, rules: Iterable[_Rule]) -> None:
        self.rules = tuple(rules)
        self._by_word: dict[str, list[int]] = {}
        always = []
        for i, rule in enumerate(self.rules):
            if rule.substrings or not rule.words:
                always.append(i)
            for word in rule.words:
                self._by_word.setdefault(word, []).append(i)
        self._always = tuple(always)

    def admitted(self, line: _Line) -> list[_Rule]:
        """The rules that ``line`` admits, in their order."""
        if not _PREFILTER:
            return [rule for rule in self.rules if line.admits(rule)]
        hits = set(self._always)
        by_word = self._by_word
        for word in line.words:
            found = by_word.get(word)
            if found is not None:
                hits.update(found)
        if line.indonesian is not None:  # the Indonesian rules' anchors are in its words
            for word in line.indonesian.words:
                found = by_word.get(word)
                if found is not None:
                    hits.update(found)
        return [self.rules[i] for i in sorted(hits) if line.admits(self.rules[i])]


def _prepare(text: str) -> _Line:
    folded = _fold(text)
    keywords = _unleet(folded.text)
    words = frozenset(_TOKEN.findall(keywords))
    return _Line(folded, keywords, words, indonesian_form(keywords, words))
