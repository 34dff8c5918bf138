"""Contact details: phone numbers, e-mail addresses, links, handles and off-platform moves."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

# The anchor switch is read as ``fold._PREFILTER``, so turning it off (a test does) reaches here.
from parley.safety.text import fold
from parley.safety.text.fold import _TOKEN, _Line, _prepare, _rule, _RuleIndex, _words
from parley.safety.text.languages import AT_WORDS, DOT_WORDS, NUMBER_WORDS, PLATFORM_NICKNAMES

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
# A run of at least 7 digits, or spelled-out digits in any of the languages ("zero eight one
# two", "nol delapan satu", "cero ocho", "shunya aath ek", mixed with digits), separated by at
# most 3 of: space, dot, dash, slash, brackets, underscore, or ", ". Each repetition must consume
# a digit, and no separator is a digit, so a run is scanned once. The look-behind stops a match
# from starting inside a word or a longer number. Commas without a space are not separators:
# "1,000,000 views" is a count.
_NUMBER_WORDS: Final = {w: d for words in NUMBER_WORDS.values() for w, d in words.items()}
_DIGITISH = r"(?:\d|(?:" + "|".join(sorted(_NUMBER_WORDS, key=lambda w: (-len(w), w))) + r")\b)"
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
_COUNT_BEFORE = re.compile(
    r"(?:score|points|pts|xp|level|lvl|rank|elo|puntuacion|puntaje|puntos|skor|poin|nilai)\s*"
    r"(?:is|was|of|es|era|de|aku|ku|:)?\s*$"
)
_COUNT_AFTER = re.compile(
    r"\s*(?:points|pts|xp|robux|coins|v-?bucks|views|followers|subs|subscribers|likes|"
    r"dollars|bucks|euros|gems|kills|wins|hours|years|people|times|rupiah|rp|yen|won|pesos|"
    r"rupees|pounds|puntos|vistas|seguidores|descargas|poin|penonton|pengikut|rupaye|log)\b"
)


_DIGIT = re.compile(r"\d")
_NUMBER_WORD_SET: Final = frozenset(_NUMBER_WORDS)


def _phone_spans(line: _Line) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    text = line.folded.text
    # Seven digits at least, unless some are spelled out. (The phone pattern reads the folded
    # text, not the leetspeak-undone one, so the number words are looked for there.)
    if (
        fold._PREFILTER
        and len(_DIGIT.findall(text)) < 7
        and line.words.isdisjoint(_NUMBER_WORD_SET)
    ):
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
# "@" and "." spelled in any of the languages: "at", "arroba", "at the rate"; "dot", "punto",
# "titik".
# Longest first: "at the rate" must not stop at "at".
_AT_SPELLED = (
    "(?:" + "|".join(w.replace(" ", r"\s{1,3}") for w in sorted(AT_WORDS, key=len)[::-1]) + ")"
)
_DOT_SPELLED_WORD = "(?:" + "|".join(DOT_WORDS) + ")"
_AT = (
    rf"(?:\s{{0,3}}@\s{{0,3}}|\s{{0,3}}[(\[{{<]\s{{0,2}}{_AT_SPELLED}\s{{0,2}}[)\]}}>]\s{{0,3}}|"
    rf"\s{{1,3}}{_AT_SPELLED}\s{{1,3}})"
)
_DOT_WORD = (
    rf"(?:\s{{0,3}}[(\[{{<]\s{{0,2}}{_DOT_SPELLED_WORD}\s{{0,2}}[)\]}}>]\s{{0,3}}|"
    rf"\s{{1,3}}{_DOT_SPELLED_WORD}\s{{1,3}})"
)
_AT_ANCHORS: Final = frozenset(w.split()[0] for w in AT_WORDS)
_DOT_ANCHORS: Final = frozenset(DOT_WORDS)
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
    if fold._PREFILTER and "@" not in text:
        # A spelled "at" needs a provider, or a dot (plain before a TLD, spaced, or spelled).
        words = line.words
        if words.isdisjoint(_AT_ANCHORS) or (
            words.isdisjoint(_PROVIDER_WORDS)
            and words.isdisjoint(_DOT_ANCHORS)
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
_DOT_SPELLED = re.compile(rf"\b{_DOT_SPELLED_WORD}\b")
_TLD_WORDS: Final = frozenset(f"{_TLDS_STRONG}|{_TLDS_WEAK}".split("|"))
_PATH_HINTS: Final = frozenset({"slash"}) | _DOT_ANCHORS | _SPACED_HOSTS
# Top-level domains that are also words in Spanish or Indonesian ("el punto es que", "punto de
# encuentro"): after a dot spelled in another language than English they need a path or a
# known host, like a spaced plain dot.
_TLDS_THAT_ARE_WORDS: Final = frozenset({"es", "de", "se", "no", "ar", "la", "pe"})


def _url_spans(line: _Line) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    text = line.folded.text
    words = line.words
    check = fold._PREFILTER
    if not check or "http" in text or "www" in text:
        for m in _URL_SCHEME.finditer(text):
            spans.append((m.start(), _trim_prose(text, m.start(), m.end())))
    if check and words.isdisjoint(_TLD_WORDS):
        return spans
    if not check or _DOT_TLD.search(text) is not None:
        spans.extend(_domain_spans(text))
    # A spaced dot is accepted only with a path, a known host or a spelled "dot" (see below).
    spaced = not words.isdisjoint(_DOT_ANCHORS) or _SPACED_DOT_HINT.search(text) is not None
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
        dot = _DOT_SPELLED.search(text, m.start(), m.end())
        spelled = dot is not None and (
            dot.group() == "dot" or m.group("tld") not in _TLDS_THAT_ARE_WORDS
        )
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
    "grindr", "tinder", "bumble", "omegle", "ometv", "yubo", "wizz", *PLATFORM_NICKNAMES,
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

# ---- handles in Indonesian, Spanish and Hinglish ----------------------------------------------
# The same two kinds as above: moves (masked whether or not a user name follows) and named
# accounts (masked only with a user name after). Indonesian puts "my" after the noun ("ig aku",
# "wa ku", "igku"); Hinglish puts the verb last ("insta pe add karo", "number bhejo").
_ID_MY = r"(?:aku|ku|gue|gw|gua|saya|ane|q)"
_ID_MY_GLUED = ("ku", "gue", "gw", "gua", "saya")
_ID_YOUR = r"(?:kamu|mu|km|kmu|lu|lo|loe|elu|elo|anda)"
_ID_CONTACT = r"(?:nomor|no\s?hp|nohp|hp|kontak|akun|id|username|usn|user)"
_ES_CONTACT = r"(?:numero|num|cel|celular|telefono|tel|contacto|usuario|user|correo|cuenta)"
_HI_CONTACT = r"(?:number|numbr|nmbr|num|mobile|phone|contact)"
_HI_YOUR = r"(?:tumhara|tumhari|tumhare|tera|teri|tere|aapka|aapki|apka|apki|apna|apni|ur|your)"
_HI_MY = r"(?:mera|meri|mere|mra|mri)"
# "#" too: a Discord tag ("rizky#2210")
_HANDLE_LIKE = r"\s+@?[a-z0-9_.#]*[0-9_.#][a-z0-9_.#]*\b"
_I18N_CONTACT_WORDS: Final = _words(
    "nomor nomer nmr no nohp hp kontak akun id username usn user numero num cel celular telefono "
    "tel contacto usuario correo cuenta number numbr nmbr mobile phone contact"
)


def _id_verbs(names: str, endings: tuple[str, ...]) -> tuple[str, str]:
    """A pattern for Indonesian verbs as the Indonesian form writes them (affixes.py): the root,
    or the root with one of ``endings`` ("dm-in aku", "hubungi aku" read "dmin aku", "hubungin
    aku"); and its anchor words, every one of those forms."""
    verbs = names.split()
    pattern = rf"(?:{'|'.join(verbs)})(?:{'|'.join(endings)})?"
    return pattern, " ".join(v + e for v in verbs for e in ("", *endings))


# Reaching someone ("dm", "hubungin"); moving the chat elsewhere ("pindah", "lanjutin",
# "ngobrolin"); adding or following an account ("follow", "savein"); asking for or swapping
# contacts ("minta", "bagiin", "tukeran").
_ID_REACH_RE, _ID_REACH_WORDS = _id_verbs(
    "add ad follow dm chat japri pc hubung kontak telpon msg inbox cari sapa", ("in",)
)
_ID_MOVE_RE, _ID_MOVE_WORDS = _id_verbs(
    "pindah lanjut ngobrol chat cet telpon vc call main ketemu", ("in", "an")
)
_ID_ADD_RE, _ID_ADD_WORDS = _id_verbs(
    "add ad follow cek liat mampir kunjungi save simpan dm", ("in",)
)
_ID_ASK_RE, _ID_ASK_WORDS = _id_verbs("minta bagi share kirim tukar", ("in", "an"))
# Platforms chat turns into verbs with "-in" ("wa-in aku", "line-in kamu").
_ID_PLATFORM_VERBS: Final = (
    "wa", "wasap", "whatsapp", "ig", "insta", "line", "tele", "telegram", "tg", "discord", "dc",
    "snap", "sc", "tiktok", "fb", "dm", "pc", "japri", "inbox",
)  # fmt: skip
_ID_PLATFORM_VERB = rf"(?:{'|'.join(_ID_PLATFORM_VERBS)})"
_ID_PLATFORM_VERB_WORDS = " ".join(w for v in _ID_PLATFORM_VERBS for w in (v, v + "in"))
_I18N_MOVES: Final = (
    # id: "dm aku di tiktok", "add aku di ig", "chat gue lewat wa", "hubungi aku di wa"
    _rule(
        rf"\b{_ID_REACH_RE}\s+{_ID_MY}\s+(?:(?:dong|ya|aja|yuk)\s+)?(?:di|ke|lewat|via|d)\s+"
        rf"(?:{_PLATFORM_ANY})\b",
        _PLATFORM_WORDS,
        also=_ID_REACH_WORDS,
        lang="id",
    ),
    # id: "gue dm kamu di ig ya", "aku chat lewat wa": the sender offers to reach the partner
    # there (not "aku chat di wa grup kelas")
    _rule(
        rf"\b{_ID_MY}\s+(?:nanti\s+)?{_ID_REACH_RE}\s+(?:{_ID_YOUR}\s+)?(?:di|ke|lewat|via)\s+"
        rf"(?:{_PLATFORM_ANY})\b(?!\s+(?:grup|group|kelas|sekolah))",
        _PLATFORM_WORDS,
        also=_ID_REACH_WORDS,
        lang="id",
    ),
    # id: "add line aku", "follow ig aku", "cek tiktok gue", "save nomorku"
    _rule(
        rf"\b{_ID_ADD_RE}\s+(?:balik\s+)?(?:ke\s+)?(?:{_PLATFORM_ANY}|{_ID_CONTACT})\s*-?\s*"
        rf"{_ID_MY}\b",
        _PLATFORM_WORDS | _I18N_CONTACT_WORDS,
        also=_ID_ADD_WORDS,
        lang="id",
    ),
    # id: "dm-in aja ke ig aku", "dm ya di tiktok aku": a particle between the verb and the
    # platform, its owner after it; then the line ends or a particle follows (not "chat di wa
    # aku ilang semua")
    _rule(
        rf"\b(?:{_ID_REACH_RE}|{_ID_ADD_RE})\s+(?:(?:aja|ya|yah|dong|yuk|deh)\s+)?"
        rf"(?:di|ke|lewat|via)\s+{_PLATFORM_ANY}\s*-?\s*{_ID_MY}\b"
        rf"(?=\s*(?:aja|ya|yah|dong|yuk|deh|nanti|[!.?,]|$))",
        _PLATFORM_WORDS,
        also=_ID_REACH_WORDS + " " + _ID_ADD_WORDS,
        lang="id",
    ),
    # id: "sini aku follow ig-mu", "follow balik tiktok kamu": following the partner's account
    _rule(
        rf"\b(?:follow|folback|add|ad|save|simpan)(?:in)?\s+(?:balik\s+)?(?:ke\s+)?"
        rf"{_PLATFORM_ANY}\s*-?\s*{_ID_YOUR}\b",
        _PLATFORM_WORDS,
        also="follow followin folback add addin ad save savein simpan simpanin",
        lang="id",
    ),
    # id: "wa-in aku", "ntar aku line-in kamu": a platform used as a verb with "-in", to message
    # someone there (the Indonesian form writes "wa-in" as "wain")
    _rule(
        rf"\b{_ID_PLATFORM_VERB}-?in\s+(?:{_ID_MY}|{_ID_YOUR})\b",
        _ID_PLATFORM_VERB_WORDS,
        also="aku ku gue gw gua saya ane q kamu mu km kmu lu lo loe elu elo anda",
        lang="id",
    ),
    # id: "pindah ke wa yuk", "lanjut di telegram aja", "ngobrolnya lewat line"
    _rule(
        rf"\b{_ID_MOVE_RE}\s+"
        rf"(?:(?:chat|obrolan|ngobrol)\s+)?(?:nya\s+)?(?:aja\s+|yuk\s+|yok\s+|ayo\s+)?"
        # "line" too: in Indonesian chat, moving "ke line" means the app; not a class's group
        rf"(?:di|ke|lewat|via|d)\s+(?:{_PLATFORM_SOCIAL}|line(?!\s+(?:dance|webtoon|art|up)\b))\b"
        rf"(?!\s+(?:grup|group))",
        _SOCIAL_WORDS | {"line"},
        also=_ID_MOVE_WORDS,
        lang="id",
    ),
    # id: "minta nomor wa kamu dong", "bagi ig dong", "boleh minta line mu?", "tukeran wa yuk"
    _rule(
        rf"\b{_ID_ASK_RE}\s+(?:dong\s+)?(?:(?:nomor|no)\s+)?"
        rf"(?:{_PLATFORM_SOCIAL}|{_ID_CONTACT}|line)\b(?!\s+(?:foto|video|lagu|link\s+lagu))",
        _SOCIAL_WORDS | _I18N_CONTACT_WORDS | {"line"},
        also=_ID_ASK_WORDS,
        lang="id",
    ),
    # id: "ig kamu apa?", "nomor kamu berapa", "wa mu dong", "igmu apa"
    _rule(
        rf"\b(?:{_PLATFORM_ANY}|{_ID_CONTACT})\s*-?\s*{_ID_YOUR}\s+(?:apa|berapa|dong|mana|ada|"
        rf"ya)\b",
        _PLATFORM_WORDS | _I18N_CONTACT_WORDS,
        also="apa berapa dong mana ada ya",
        lang="id",
    ),
    # id: "ignya apa?", "wanya brp?": asking for the account itself
    _rule(
        rf"\b(?:{_PLATFORM_SOCIAL}|line)\s*-?\s*nya\s+(?:apa|berapa|dong|mana)\b",
        _SOCIAL_WORDS | {"line"},
        also="apa berapa dong mana",
        lang="id",
    ),
    # id: "punya wa ga?", "ada ig?", "kamu main tiktok gak", "ada line ga kamu?": asking
    # whether the partner has the app ("line" and "tele" only after having or using it, not
    # "main", and not "line up")
    _rule(
        rf"\b(?:(?:punya|pny|ada|pakai|main)\s+{_PLATFORM_SOCIAL}|(?:punya|pny|ada|pakai)\s+"
        rf"(?:line|tele)(?!\s+up\b))\s*(?:-?\s*{_ID_YOUR}\s*)?(?:juga\s+)?(?:gak|\?)",
        _SOCIAL_WORDS | {"line", "tele"},
        also="punya pny ada pakai main",
        lang="id",
    ),
    # id: "wasap aku aja", "dm aku ya": a platform used as a verb
    _rule(
        rf"\b{_PLATFORM_SOCIAL}\s*-?\s*{_ID_MY}\s+(?:aja|ya|dong|yuk|yah)\b",
        _SOCIAL_WORDS,
        also="aja ya dong yuk yah",
        lang="id",
    ),
    # id: "dm aku aja", "japri aku ya": to private messages, wherever they are
    _rule(
        rf"\b(?:dm|pc|japri|inbox)(?:in)?\s+{_ID_MY}\s+(?:aja|ya|dong|yuk|yah)\b",
        "dm pc japri inbox dmin pcin japriin inboxin",
        also="aja ya dong yuk yah",
        lang="id",
    ),
    # id: "japri aja kak", "mending pc aja", "lewat jalur pribadi yuk": moving to private
    # messages, no person named. "japri" and "jalur pribadi" mean nothing else; "pc" (also a
    # computer) and "dm" only opening the line or after an urging word ("main di pc aja" is
    # a game)
    _rule(
        rf"\b(?:japri(?:in)?|jalur\s+pribadi)\s+(?:aja|ya|yah|dong|yuk|yok|kuy|kak|deh|sekarang)\b"
        rf"|\b(?:yuk|ayo|ayok|yok|mending|mendingan|langsung|lanjut|lewat|via)\s+(?:japri|"
        rf"jalur\s+pribadi)\b"
        rf"|(?:^|(?<=[,.!?])|(?<=[,.!?]\s)|\b(?:yuk|ayo|ayok|yok|mending|mendingan|langsung|lanjut|"
        rf"sini|udah|nanti|kalo\s+mau)\s+)(?:(?:pc|dm|inbox)(?:in)?|chat\s+pribadi|personal\s+chat)"
        rf"\s+(?:aja|ya|yah|dong|yuk|yok|kuy|kak|deh|sekarang)\b"
        # not sending someone else there ("dm aja ke admin olshopnya")
        rf"(?!\s+(?:ke|sama)\s+(?!(?:{_PLATFORM_ANY}|line|{_ID_MY}|{_ID_YOUR})\b)\w)",
        "japri japriin jalur pc pcin dm dmin inbox inboxin pribadi personal",
        lang="id",
    ),
    # id: "vc yuk", "telponan yuk", "ayo video call", "vc an yuk"
    _rule(
        r"\b(?:vc|vcs|videocall|video\s+call|telpon|call)(?:an)?\s+(?:yuk|yok|kuy|ayo|yu|"
        r"sekarang|dong)\b|\b(?:yuk|ayo|ayok|yok|mau)\s+(?:vc|vcs|videocall|video\s+call|"
        r"telponan|vcan)\b",
        "vc vcs videocall video telponan call vcan callan",
        also="yuk yok kuy ayo yu sekarang dong ayok mau",
        lang="id",
    ),
    # es: "agregame en insta", "sigueme en tiktok", "escribeme al wsp", "mandame un dm por ig"
    _rule(
        rf"\b(?:agregame|agrega(?:me)?|agregar|sigueme|seguime|siguime|escribeme|escribime|"
        rf"hablame|buscame|anademe|llamame|marcame|mandame|enviame|textea(?:me)?)"
        rf"(?:\s+(?:un|una|mensaje|msj|dm|md|a|al|en|por|el|la|de|mi)){{0,4}}\s+{_PLATFORM_ANY}\b",
        _PLATFORM_WORDS,
        also="agregame agrega agregar sigueme seguime siguime escribeme escribime hablame "
        "buscame anademe llamame marcame mandame enviame textea texteame",
        lang="es",
    ),
    # es: "hablemos por whatsapp", "mejor seguimos en telegram"
    _rule(
        rf"\b(?:hablemos|sigamos|pasemos|pasate|pasamos|vamos|podemos|mejor|seguimos|platicamos|"
        rf"platiquemos|charlamos|charlemos|hablamos|nos\s+hablamos)\s+(?:\w+\s+)?"
        rf"(?:por|en|a|al)\s+(?:el\s+|la\s+)?{_PLATFORM_SOCIAL}\b",
        _SOCIAL_WORDS,
        also="hablemos sigamos pasemos pasate pasamos vamos podemos mejor seguimos platicamos "
        "platiquemos charlamos charlemos hablamos",
        lang="es",
    ),
    # es: "pasame tu numero", "dame tu insta", "cual es tu snap", "me das tu whats?"
    _rule(
        rf"\b(?:pasame|pasa|dame|mandame|enviame|me\s+(?:das|pasas|mandas|dejas)|cual\s+es|"
        rf"como\s+es|cual|quiero|puedo\s+tener)\s+(?:tu|tus|su)\s+(?:numero\s+de\s+)?"
        rf"(?:{_PLATFORM_ANY}|{_ES_CONTACT}|whats)\b{_NOT_A_REQUEST}",
        _PLATFORM_WORDS | _I18N_CONTACT_WORDS | {"whats"},
        also="pasame pasa dame mandame enviame me cual como quiero puedo",
        lang="es",
    ),
    # es: "tienes wsp?", "usas insta?", "tu snap?"
    _rule(
        rf"\b(?:tienes|tenes|tiene|usas|tu)\s+{_PLATFORM_SOCIAL}\b(?=\s*(?:[?!.,]|$|\b(?:o|"
        rf"tambien|amigo|amiga|bro)\b))",
        _SOCIAL_WORDS,
        also="tienes tenes tiene usas tu",
        lang="es",
    ),
    # es: "hacemos videollamada?", "hagamos una llamada"
    _rule(
        r"\b(?:hacemos|hagamos|quieres\s+hacer|podemos\s+hacer)\s+(?:una\s+)?(?:videollamada|"
        r"llamada|video\s?llamada|vc)\b|\bvideollamada\s*\?",
        "videollamada llamada video vc",
        lang="es",
    ),
    # hi: "whatsapp pe aao", "insta pe add karo", "snap pe baat karte hain", "number pe call karo"
    _rule(
        rf"\b(?:{_PLATFORM_ANY}|number|no)\s+(?:pe|par|pr|p|me|mein|mai)\s+(?:add|follow|msg|"
        rf"message|dm|text|baat|call|aa|aao|aaja|aja|ajao|aajao|milo|bhej|msj|chat|ping|video)\w*",
        _PLATFORM_WORDS | {"number", "no"},
        also="pe par pr p me mein mai",
        lang="hi",
    ),
    # hi: "apna number do", "tumhara insta id bhejo", "number milega?", "insta id de do"
    _rule(
        rf"\b(?:{_HI_YOUR}\s+)?(?:{_PLATFORM_ANY}|{_HI_CONTACT})(?:\s+(?:id|number|no|"
        rf"naam|handle))?\s+(?:do|de|dedo|de\s+do|dena|dijiye|bhejo|bhej|bhej\s+do|send\s+karo|"
        rf"batao|bata|bata\s+do|bolo|likho|share\s+karo|kya\s+(?:hai|he|h)|dega|degi|dogi|doge|"
        rf"milega|mil\s+sakta)\b",
        _PLATFORM_WORDS | _I18N_CONTACT_WORDS,
        also="do de dedo dena dijiye bhejo bhej send batao bata bolo likho share kya dega degi "
        "dogi doge milega mil",
        lang="hi",
    ),
    # hi: "video call karo", "vc karte hain", "call karoge?"
    _rule(
        r"\b(?:video\s+call|videocall|vc|call)\s+(?:karo|karein|kare|karte|karoge|karogi|kar\s+lo|"
        r"krte|kro|krein|karna|kar\s+sakte)\b",
        "video videocall vc call",
        also="karo karein kare karte karoge karogi kar krte kro krein karna",
        lang="hi",
    ),
    # hi: "mujhe insta pe follow karo", "mujhe add karo snap pe"
    _rule(
        rf"\b(?:mujhe|muje|mujko|mereko)\s+(?:{_PLATFORM_ANY}\s+(?:pe|par|pr)\s+)?(?:add|follow|"
        rf"msg|message|call|text|dm)\s+(?:karo|kar\s+lo|kar\s+do|karna|kro)\b"
        rf"(?:\s+(?:{_PLATFORM_ANY})\s+(?:pe|par|pr)\b)?",
        "mujhe muje mujko mereko",
        also="add follow msg message call text dm",
        lang="hi",
    ),
)
# Named accounts, masked with the user name after them: "mi insta es x", "ig aku: x",
# "mera insta id rohan_22 hai".
_I18N_NAMED: Final = (
    _rule(
        rf"\b(?:{_PLATFORM_ANY}|{_ID_CONTACT}|line)(?:\s+(?:{_PLATFORM_ANY}|line))?\s*-?\s*"
        rf"{_ID_MY}\b(?=\s*(?:adalah\b|=|:|@|-\s)|{_HANDLE_LIKE})",
        _PLATFORM_WORDS | _I18N_CONTACT_WORDS | {"line"},
        # "my" may be glued on ("nomorku", "igku"): then no whole word anchors the rule.
        _ID_MY_GLUED,
        also="aku ku gue gw gua saya ane q",
        also_substrings=_ID_MY_GLUED,
        lang="id",
    ),
    _rule(
        rf"\bmis?\s+(?:{_PLATFORM_ANY}|{_ES_CONTACT}|whats)(?:\s+(?:de\s+)?(?:{_PLATFORM_ANY}|"
        rf"usuario|user))?(?=\s*(?:es\b|=|:|@|-\s)|{_HANDLE_LIKE})",
        _PLATFORM_WORDS | _I18N_CONTACT_WORDS | {"whats"},
        also="mi mis",
        lang="es",
    ),
    _rule(
        rf"\b{_HI_MY}\s+(?:{_PLATFORM_ANY}|{_HI_CONTACT})(?:\s+(?:id|number|no|naam|handle|"
        rf"username|user))?(?=\s*(?:hai\b|he\b|h\b|=|:|@|-\s|ye\b|yeh\b)|{_HANDLE_LIKE})",
        _PLATFORM_WORDS | _I18N_CONTACT_WORDS,
        also="mera meri mere mra mri",
        lang="hi",
    ),
)

# After "add me on snap" and the like: an optional "it's" / "my user is" / ":" and one token.
_HANDLE_TAIL = re.compile(
    r"\s{0,3}[:,=\-]?\s{0,3}(?:(?:it'?s|its|is|es|adalah|hai|he|ye\s+hai|yeh\s+hai|my\s+(?:user\s?name|user|id|name|tag|gamertag|"
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
    aja ya dong deh sih kok lagi yuk yok ga gak nggak tapi dan atau kalo kalau nanti aku kamu ku
    mu di ke dari sama juga udah sudah belum baru dulu skrg sekarang besok ntar
    y o pero que si por porfa favor luego despues mas ahora bueno jaja jajaja el la los las un
    una de del en te tu mi ahi tambien amigo amiga mejor plis please
    hai h ho na nahi nhi kya karo karna kar do de bhi toh aur abhi baad mein pe par se ko yaar
    bhai ye yeh
    """
)
# A bare "@handle". Must hold a letter and must not be a time ("@5pm").
_AT_HANDLE = re.compile(r"(?<![\w@.])@(?=[a-z0-9_.]{0,29}[a-z])[a-z0-9_][a-z0-9_.]{1,29}")
_TIME = re.compile(r"@\d{1,2}(?::\d\d)?\s?(?:am|pm)?$")


_MOVES_INDEX: Final = _RuleIndex((*_HANDLE_MOVES, *_I18N_MOVES))
_NAMED_INDEX: Final = _RuleIndex((*_HANDLE_NAMED, *_I18N_NAMED))


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
    for rule in _MOVES_INDEX.admitted(line):
        for m in rule.pattern.finditer(line.text_for(rule)):
            start, end = line.span_for(rule, m.start(), m.end())
            spans.append((start, _tail_end(keywords, end) or end))
    for rule in _NAMED_INDEX.admitted(line):
        for m in rule.pattern.finditer(line.text_for(rule)):
            start, end = line.span_for(rule, m.start(), m.end())
            tail = _tail_end(keywords, end)
            if tail is not None:
                spans.append((start, tail))
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
