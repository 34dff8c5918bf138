"""The territorial scope of a statement of reasons: countries of the EU and the EEA.

ISO 3166-1 alpha-2 codes as the DSA Transparency Database takes them (Greece is ``GR``). A ban on
Parley holds wherever the person connects from, so the default scope is the whole EEA.
"""

from __future__ import annotations

#: The 27 member states of the European Union.
EU = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
#: The European Economic Area: the EU with Iceland, Liechtenstein and Norway.
EEA = tuple(sorted((*EU, "IS", "LI", "NO")))


def territorial_scope(setting: str) -> tuple[str, ...]:
    """``PARLEY_SOR_TERRITORIAL_SCOPE`` as sorted country codes: ``EEA``, ``EU``, or a
    comma-separated list of EEA codes. ValueError for anything else."""
    value = setting.strip().upper()
    if value == "EEA":
        return EEA
    if value == "EU":
        return EU
    codes = sorted({code.strip() for code in value.split(",") if code.strip()})
    unknown = [code for code in codes if code not in EEA]
    if not codes or unknown:
        raise ValueError(
            f"PARLEY_SOR_TERRITORIAL_SCOPE: {setting!r} is not EEA, EU or a list of EEA country "
            f"codes (unknown: {', '.join(unknown) or 'none given'})"
        )
    return tuple(codes)
