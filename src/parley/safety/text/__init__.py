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
- Indonesian builds words with affixes ("dihapus", "kirimin", "umurmu", "nge-dm") and chat
  spells its common words many ways ("gk", "nggak"). The Indonesian rules read the line with
  each such word written one way, its root (:mod:`.affixes`); a match there maps back to whole
  words of the line.
- Each rule names anchor words that any of its matches contains. A line's words are collected
  once, and a rule's regex runs only when an anchor is present, so a typical line runs a few
  regexes, not forty. Anchors only skip work: a test checks that results are identical without
  them.
- Word lists and edge choices are documented next to each pattern. The labelled corpora in
  ``tests/data/`` hold the benign look-alikes that they are checked against, and a held-out set
  whose first-run figures (before any tuning) are the honest estimate of quality.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.safety.text.contacts import (
    CONTACT_KINDS,
    PLACEHOLDER,
    ContactKind,
    ContactSpan,
    _apply_mask,
    _detect,
    find_contacts,
    mask_contacts,
)
from parley.safety.text.fold import _prepare
from parley.safety.text.hygiene import clean_message, normalise_interests
from parley.safety.text.risk import ConversationRisk, RiskAlert, RiskHit, RiskPolicy
from parley.safety.text.signals import Signal, line_signals
from parley.safety.text.unread import count_unread, foreign_script, unread_counts

# What the rest of Parley imports from ``parley.safety.text``. Inside the package the modules
# import each other directly: hygiene stands alone; affixes <- fold <- contacts <- signals
# <- risk.
__all__ = [
    "CONTACT_KINDS",
    "PLACEHOLDER",
    "ContactKind",
    "ContactSpan",
    "ConversationRisk",
    "RiskAlert",
    "RiskHit",
    "RiskPolicy",
    "Screened",
    "Signal",
    "clean_message",
    "find_contacts",
    "line_signals",
    "mask_contacts",
    "normalise_interests",
    "screen_line",
    "unread_counts",
]


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

    A line the filter cannot read is still delivered, never dropped, and is counted (see
    :mod:`.unread`): one mostly in another script goes through the rules (its digits and
    addresses are still found); one the filter fails on passes unmasked.
    """
    try:
        prepared = _prepare(text)
        if prepared.folded.origin is not None and foreign_script(prepared.folded.text):
            count_unread("script")
        found = _detect(text, prepared)
        kinds = tuple(k for k in CONTACT_KINDS if any(k in ks for _, ks in found))
        out = _apply_mask(text, found, placeholder)[0] if mask else text
        alert = None if risk is None else risk._feed(text, from_side, kinds, prepared)
    except Exception:  # a bug must cost a masking, not the message or the connection
        count_unread("error")
        return Screened(text, (), None)
    return Screened(out, kinds, alert)
