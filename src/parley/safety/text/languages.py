"""The languages the text filter reads, and each one's shared vocabulary.

English, Indonesian, Spanish, and Hindi written in Latin script (Hinglish). Every line is read
with every language's rules at once: no language is guessed first (docs/safety.md, "Language
choice", gives the measurement behind that). The rules themselves live with their concept
(:mod:`.contacts`, :mod:`.signals`) and are tagged with their language; this module holds the
words several rules share. All words are in folded form: lower case, accents dropped.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "id", "es", "hi")

# Digits spelled out, for phone numbers. Words that are also ordinary words ("do", "teen",
# "sat", "no") cost nothing here: a phone number needs seven digits or number words in a row.
NUMBER_WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
        "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    },
    "id": {
        "nol": "0", "kosong": "0", "satu": "1", "dua": "2", "tiga": "3", "empat": "4",
        "ampat": "4", "lima": "5", "enam": "6", "anam": "6", "tujuh": "7", "tuju": "7",
        "delapan": "8", "lapan": "8", "sembilan": "9", "smbilan": "9",
    },
    "es": {
        "cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4",
        "cinco": "5", "seis": "6", "siete": "7", "ocho": "8", "nueve": "9",
    },
    "hi": {
        "shunya": "0", "sunya": "0", "shoonya": "0", "ek": "1", "do": "2", "teen": "3",
        "tin": "3", "char": "4", "chaar": "4", "panch": "5", "paanch": "5",
        "pach": "5", "chhe": "6", "chhah": "6", "chah": "6", "che": "6", "cheh": "6",
        "saat": "7", "sat": "7", "aath": "8", "aat": "8", "ath": "8",
        "nau": "9", "nao": "9",
    },
}  # fmt: skip

# Short forms and local spellings of platforms that are not ordinary words in any of the four
# languages ("wasap", "wsp", "guasap"). Added to the English names in :mod:`.contacts`.
PLATFORM_NICKNAMES: Final = (
    "wasap", "wassap", "whatsap", "watsap", "watsapp", "whatapp", "wtsp", "wsp", "wpp",
    "guasap", "tiktk", "tlgrm", "mesenger", "feisbuk",
)  # fmt: skip

# "@" and "." spelled out. "at" and "dot" are English's; "at the rate" is Indian English.
AT_WORDS: Final = ("at", "arroba", "at the rate of", "at the rate", "at d rate", "atrate")
DOT_WORDS: Final = ("dot", "punto", "titik", "daat")
