"""Grooming signals, scored over the whole conversation."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from parley.safety.text.fold import _Line
from parley.safety.text.signals import Signal, _signal_spans


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """How signals add up. The defaults are tuned on the conversations in ``tests/data/``.

    A signal's *level* rises by 1 with each line that hits it and halves every
    ``half_life_lines`` lines of the conversation (both sides count). Its contribution is its
    weight times ``min(level, 1) + repeat_bonus * min(level - 1, repeat_cap)``: repeating one
    signal adds a little, up to ``1 + repeat_bonus * repeat_cap`` times its weight. The sum is
    multiplied by ``1 + diversity_bonus * (active - 1)``, where ``active`` counts signals with
    a level of at least ``active_level``: several distinct signals weigh more than one
    repeated. With the defaults, one line of a single signal never crosses the threshold,
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
    weights: Mapping[Signal, float] = field(
        default_factory=lambda: {
            Signal.AGE: 1.0,
            Signal.IMAGES: 2.0,
            Signal.SECRECY: 2.5,
            Signal.ISOLATION: 2.0,
            Signal.MEETING: 2.0,
            Signal.GIFTS: 1.5,
            Signal.SEXUAL: 3.0,
            Signal.OFFPLATFORM: 1.5,
            Signal.FLATTERY: 1.0,
        }
    )


@dataclass(frozen=True, slots=True)
class RiskHit:
    """One line that carried a signal: evidence for the moderator. ``excerpt`` is the matched
    phrase (not the whole line), cut to ``RiskPolicy.excerpt_chars``."""

    side: int
    signal: Signal
    line_no: int
    excerpt: str


@dataclass(frozen=True, slots=True)
class RiskAlert:
    """The score of ``side`` crossed the threshold at line ``line_no``. The server prompts the
    *other* side (the young person being talked to) and flags the conversation for review."""

    side: int
    score: float
    line_no: int
    signals: Mapping[Signal, int]
    evidence: tuple[RiskHit, ...]


_SIGNALS: Final = tuple(Signal)
_INDEX: Final = {signal: i for i, signal in enumerate(_SIGNALS)}


class _SideState:
    __slots__ = ("alerted", "counts", "evidence", "levels", "stamps")

    def __init__(self, evidence_cap: int) -> None:
        n = len(_SIGNALS)
        self.levels = [0.0] * n  # decayed level per signal, as of stamps[i]
        self.stamps = [0] * n  # line number at which levels[i] was last brought up to date
        self.counts = [0] * n  # raw hits per signal, for the moderator
        self.evidence: deque[RiskHit] = deque(maxlen=evidence_cap)
        self.alerted = False


class ConversationRisk:
    """Grooming-signal score of one pair, per side, over the whole conversation.

    Bounded state: per side, three numbers per signal and at most
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
        self._weights = [self.policy.weights.get(c, 0.0) for c in _SIGNALS]
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
        signals = _signal_spans(line, contacts=contact_kinds is None, line=prepared)
        if contact_kinds:
            signals.append((Signal.OFFPLATFORM, 0, 0))
        if not signals:
            return None
        state = self._sides[from_side]
        seen: set[Signal] = set()
        for signal, start, end in signals:
            if signal in seen:
                continue
            seen.add(signal)
            i = _INDEX[signal]
            state.levels[i] = self._level(state, i) + 1.0
            state.stamps[i] = self._line_no
            state.counts[i] += 1
            excerpt = line[start:end][: self.policy.excerpt_chars] if end > start else ""
            state.evidence.append(RiskHit(from_side, signal, self._line_no, excerpt))
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
            signals=self.signal_hits(from_side),
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

    def signal_hits(self, side: int) -> dict[Signal, int]:
        """Raw hits per signal for ``side`` (not decayed): what the moderator sees."""
        state = self._sides[side]
        return {c: state.counts[i] for i, c in enumerate(_SIGNALS) if state.counts[i]}

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
                    # The stored keys keep their names ("categories", "category").
                    "categories": {str(c): n for c, n in self.signal_hits(side).items()},
                    "evidence": [
                        {"line": h.line_no, "category": str(h.signal), "excerpt": h.excerpt}
                        for h in self._sides[side].evidence
                    ],
                }
                for side in (0, 1)
            ],
        }
