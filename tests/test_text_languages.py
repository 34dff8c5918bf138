"""The text filter in Indonesian, Spanish and Hindi written in Latin script (Hinglish), with
English kept: folding, contact masking, grooming signals, and the per-language quality floors
on the held-out corpora in ``tests/data/lang/`` (issue 18)."""

from __future__ import annotations

from parley.safety.text import mask_contacts
from parley.safety.text.fold import _prepare

# ---- folding ---------------------------------------------------------------------------------


def test_accents_fold_away_so_one_spelling_serves() -> None:
    assert _prepare("¿Estás SOLA en casa?").keywords == "¿estas sola en casa?"
    assert _prepare("mi número").keywords == "mi numero"
    assert _prepare("años").keywords == "anos"
    # A masked line keeps the sender's own accented characters outside the hidden span.
    masked, _ = mask_contacts("Héllo, écris à sam@example.org ça va")
    assert masked == "Héllo, écris à [hidden] ça va"
