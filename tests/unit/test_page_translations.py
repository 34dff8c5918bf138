"""The page's translations (src/parley/web/i18n/): every text the page can show exists in each
language with the same placeholders, and every safety text is really translated (issue 18:
"localise the safety prompt, the contact_masked notice and every safety text in en and id")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import parley

I18N = Path(parley.__file__).resolve().parent / "web" / "i18n"
LANGUAGES = ("en", "id")
# The texts a person relies on for their safety: notices (contact masking, the safety prompt),
# the safety panel, reports, blocks, bans, refusals, and what the video says about moderation.
SAFETY = re.compile(
    r"^(?:notice|safety|report|block|ban|reason)\.|^landing\.(?:refused|ages_|age_hint)|"
    r"^video\.(?:blurred|checking|reveal|held_by_choice|always_blur|vision_)"
)
# Texts that read the same in both languages (a word both use, or placeholders only).
SAME_IN_BOTH = frozenset({"report.count", "ban.ends_value"})


def table(lang: str) -> dict[str, str]:
    data = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return {str(k): str(v) for k, v in data.items()}


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_language_has_every_text_with_the_same_placeholders() -> None:
    en = table("en")
    for lang in LANGUAGES[1:]:
        other = table(lang)
        assert set(other) == set(en), (lang, set(en) ^ set(other))
        for key, text in en.items():
            assert placeholders(other[key]) == placeholders(text), (lang, key)


def test_every_safety_text_is_translated() -> None:
    en, id_ = table("en"), table("id")
    safety = [key for key in en if SAFETY.search(key)]
    for key in ("notice.contact_masked", "notice.safety_prompt", "landing.refused",
                "landing.refused_minor", "video.checking", "video.held_by_choice"):  # fmt: skip
        assert key in safety, key
    untranslated = [k for k in safety if en[k] == id_[k] and k not in SAME_IN_BOTH]
    assert untranslated == []
