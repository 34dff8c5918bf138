"""Indonesian affixes: each word of a line read back to the root the rules are written on.

Indonesian builds words around a root, and chat adds its own spellings: "hapus" (delete) is
also "dihapus", "menghapus", "ngapus", "hapusin", "hapuskan", "dihapusin", "kehapus"; "foto" is
also "fotoin", "difotoin", "ngefoto", "fotomu", "foto-foto", "foto2". A rule that lists words
misses most of them. The Indonesian rules therefore read the line's *Indonesian form*
(:func:`indonesian_form`), in which every word built on a root of :data:`ROOTS` is written one
way::

    [di|ke]root[in|an] [ku|mu|nya] [lah|kah|pun|dong|sih|deh]

- prefixes: the active me(N)- with its sound changes ("mengirim", "membeli", "menelpon",
  "menyimpan", "memakai") and chat's ng-/ny-/n-/m-/nge- ("ngirim", "nyimpen", "nelpon", "make",
  "ngechat"), and ber- ("bertemu"), are dropped: an active verb reads as its root. The passive
  di- is kept as "di" ("dihapus"); the accidental ter- and ke- as "ke" ("terhapus" and
  "kehapus", deleted by mistake, which is not a request to delete);
- suffixes: -kan, -i and chat's -in (causative and benefactive: "belikan", "beliin", to buy for
  someone) read "in"; -an ("ketemuan", "vcan", "telponan", also written apart: "vc an") reads
  "an";
- clitics and particles are split off as words: "umurmu" reads "umur mu" (your age),
  "nomorku" "nomor ku", "chatnya" "chat nya", "kirimlah" "kirim lah";
- reduplication is read once: "foto-foto", "foto2" read "foto"; a hyphen inside a word is
  dropped ("nge-dm", "dm-in", "ig-nya");
- common words have one spelling (:data:`SPELLINGS`): "gk", "ga", "nggak", "engga" read "gak";
  "sm", "ama" "sama"; "aj", "ajah", "saja" "aja"; "gausah" "gak usah".

A word is rewritten only when what is left after the affixes is a root in :data:`ROOTS`.
Without a dictionary of the language, stripping every "di-" or "-an" would read "dian" as "an"
and "jalan" as "jal"; with the rules' own roots, an unlisted word stays as it was (and costs
what it cost before). Other languages' words are left alone for the same reason, and their
rules never read this form. Every prefixed and suffixed form of every root is made once, when
the module loads (about 9,000 words), so reading a word is a few look-ups, never a search.
(PySastrawi and Snowball's Indonesian stemmer were tried: they leave chat's "-in", "nge-",
"ny-" and "gk" forms as they are, and drop "-mu" and "-ku" alike; docs/safety.md.)

Spans found in the form are mapped back to whole words of the line (:meth:`IndonesianForm.span`),
so that masking hides the sender's own word, affixes and all.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Final

# Roots, as variant spellings -> the one spelling the rules use. Grouped by what they are
# about; every group is a vocabulary some Indonesian rule reads (signals.py, contacts.py).
_ROOT_GROUPS: Final = (
    # parents: "ortumu", "mamamu", "ayahnya"
    "ortu mama mamah mami papa papah papi ibu bapak ayah bunda emak nyokap bokap keluarga",
    # age, school, home
    "umur usia kelas kls:kelas sekolah skul:sekolah sklh:sekolah lahir rumah rmh:rumah alamat "
    "tinggal kamar kos kost sendiri sndiri:sendiri",
    # secrecy
    "hapus apus:hapus delete rahasia rhs:rahasia bilang cerita crita:cerita lapor adu "
    "sembunyi ngomong omong:ngomong tau tahu:tau tw:tau chat chatting:chat cet:chat pesan "
    "percakapan obrolan riwayat history",
    # images and sexual talk
    "foto poto:foto video vid rekam pap selfie kamera gambar liat lihat:liat lht:liat nyala "
    "hidup buka lepas copot pakai pake:pakai cium baju celana",
    # gifts
    "kasih ksh:kasih kasi:kasih beli bayar traktir transfer tf topup isi kirim krm:kirim jajan",
    # meeting
    "ketemu ktemu:ketemu ktmu:ketemu temu:ketemu jemput samper datang dateng:datang main tunggu",
    # asking, sharing, trusting
    "minta mnta:minta bagi share spill cek periksa percaya ngerti badan body tubuh muka wajah",
    # moving elsewhere: verbs, platforms, contact words
    "dm vc call telpon telepon:telpon telp:telpon tlp:telpon telfon:telpon follow "
    "folow:follow add save simpan simpen:simpan pindah lanjut ngobrol japri hubung kontak "
    "inbox sapa cari tukar tuker:tukar wa ig line tiktok tele snap discord nomor nomer:nomor "
    "nmr:nomor akun id username usn hp",
)


def _roots() -> dict[str, str]:
    roots = {}
    for group in _ROOT_GROUPS:
        for word in group.split():
            variant, _, canonical = word.partition(":")
            roots[variant] = canonical or variant
    return roots


ROOTS: Final = _roots()

# Whole words written one way (no affixes): negation, the particles and function words that
# the rules read, and glued pairs.
# "g" alone is too short to be sure of, and is not among them.
_NEGATIONS: Final = "ga gak gk nggak ngga nggk ngk enggak engga egk kagak gx tdk tidak ndak nda gaa"
SPELLINGS: Final[dict[str, str]] = {
    **dict.fromkeys(_NEGATIONS.split(), "gak"),
    "gausah": "gak usah", "gusah": "gak usah", "gaboleh": "gak boleh", "gabole": "gak boleh",
    "gatau": "gak tau", "gatw": "gak tau", "gamau": "gak mau", "gaada": "gak ada",
    "kasitau": "kasih tau", "kasihtau": "kasih tau", "ksitau": "kasih tau",
    "sm": "sama", "ama": "sama", "aj": "aja", "ajah": "aja", "ajh": "aja", "saja": "aja",
    "udh": "udah", "uda": "udah", "sdh": "udah", "sudah": "udah", "blm": "belum",
    "blom": "belum", "belom": "belum", "bgt": "banget", "bngt": "banget", "yg": "yang",
    "jgn": "jangan", "jngn": "jangan", "jng": "jangan", "dmn": "dimana", "dimn": "dimana",
    "dmna": "dimana", "brp": "berapa", "brapa": "berapa", "brpa": "berapa",
    "skrg": "sekarang", "skrng": "sekarang", "kmu": "kamu", "ntar": "nanti", "nnti": "nanti",
    "donk": "dong", "dunk": "dong", "mw": "mau", "pgn": "pengen", "pengin": "pengen",
    "pingin": "pengen", "sndirian": "sendirian", "sampe": "sampai",
    "lg": "lagi", "lgi": "lagi", "org": "orang", "orgtua": "orang tua", "orangtua": "orang tua",
    # "diri" (self) with "-mu"/"-ku"/"-nya", not as a root: "berdiri" (to stand) stays itself
    "dirimu": "diri mu", "diriku": "diri ku", "dirinya": "diri nya",
}  # fmt: skip

_PARTICLES: Final = ("lah", "kah", "pun", "dong", "sih", "deh")
_CLITICS: Final = ("nya", "ku", "mu")
_MAX_WORD: Final = 24


def _prefixed(root: str) -> list[tuple[str, str]]:
    """(marker, how the word starts) for each prefix ``root`` can take, the bare root first and
    the rest in the order an analysis prefers them."""
    head, tail = root[0], root[1:]
    forms = [("", root), ("di", "di" + root), ("ke", "ter" + root), ("ke", "ke" + root)]
    forms.append(("", "ber" + root))
    # me(N)-: meng- before a vowel, g or h, and before k, which it drops; meny- for s; mem- before
    # b, f or v, and for p; men- before d, c or j, and for t; me- before l, m, n, r, w or y. Chat
    # and loanwords spell them loosely ("mentransfer", "memfollow"), so each is taken before
    # any root. Chat's own: nge- before any root, ng-, and ng-/ny-/m-/n- for k/s or c/p/t.
    forms += [("", "me" + root), ("", "meng" + root), ("", "mem" + root), ("", "men" + root)]
    dropped = {"k": ("meng", "ng"), "s": ("meny", "ny"), "p": ("mem", "m"), "t": ("men", "n")}
    if head in dropped:
        forms += [("", dropped[head][0] + tail), ("", dropped[head][1] + tail)]
    forms += [("", "nge" + root), ("", "ng" + root)]
    if head == "c":
        forms.append(("", "ny" + tail))
    return forms


# -kan, -i and -in read "in"; -an reads "an". The bare root first.
_SUFFIXED: Final = (("", ""), ("in", "kan"), ("in", "in"), ("in", "i"), ("an", "an"))


def _cores() -> dict[str, str]:
    """Every word built on a root with a prefix and a suffix, as [di|ke]root[in|an]. Made once:
    reading a word is then one look-up, whatever a script sends. Where two analyses spell the
    same word, the one that strips less wins (a root that is itself a word stays that word)."""
    prefixed = [(canonical, _prefixed(variant)) for variant, canonical in ROOTS.items()]
    cores: dict[str, str] = {}
    for p_rank in range(max(len(forms) for _, forms in prefixed)):
        for suffix, ending in _SUFFIXED:
            for canonical, forms in prefixed:
                if p_rank < len(forms):
                    marker, start = forms[p_rank]
                    cores.setdefault(start + ending, sys.intern(marker + canonical + suffix))
    return cores


_CORES: Final = _cores()


def _analyse(word: str) -> str | None:
    """The Indonesian form of one word; ``None`` if it is not built on a root (or a spelling)."""
    spelled = SPELLINGS.get(word)
    if spelled is not None:
        return spelled
    if not 3 <= len(word) <= _MAX_WORD:
        return ROOTS.get(word)
    for particle in ("", *_PARTICLES):
        if particle and not word.endswith(particle):
            continue
        body = word[: len(word) - len(particle)]
        for clitic in ("", *_CLITICS):
            if clitic and not body.endswith(clitic):
                continue
            core = _CORES.get(body[: len(body) - len(clitic)])
            if core is not None:
                return " ".join(part for part in (core, clitic, particle) if part)
    return None


# Each word's analysis, remembered: chat repeats its words. The words that read as themselves
# are kept in a set of their own, so that a line with none other is passed over by one set
# difference. Bounded, since a script can send any number of new words; cleared when full
# (cheaper than keeping an order).
_SEEN: dict[str, str | None] = {}
_SAME: set[str] = set()
_SEEN_MAX: Final = 50_000


def analyse(word: str) -> str | None:
    """The Indonesian form of one folded word (see the module's docstring), or ``None`` when it
    is built on none of the roots."""
    try:
        return _SEEN[word]
    except KeyError:
        pass
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
        _SAME.clear()
    found = _SEEN[word] = _analyse(word)
    if found is None or found == word:
        _SAME.add(word)
    return found


# A word of the line: letters, maybe hyphenated ("nge-dm", "foto-foto"), maybe with a "2" of
# reduplication ("foto2"), maybe with a suffix written apart ("vc an"). Not inside a user name,
# an address or a number ("budi.keren", "@fotoku", "tiara99").
_WORD: Final = re.compile(
    r"(?<![\w@.#])[a-z]++(?:-[a-z]++)*+(?:2[a-z]*+)?+(?:\san\b)?+(?![\w@#]|\.\w)"
)
# What only the slow path sees: hyphens and "2" inside words, a suffix written apart.
_GLUE: Final = re.compile(r"[a-z](?:-[a-z]|2(?![0-9_]))|\san\b")


def _word_form(token: str) -> str | None:
    if " " in token:  # "vc an": the suffix written apart
        base = token.split()[0]
        return analyse(base + "an")
    if "2" in token:  # "foto2", "foto2mu": reduplication, maybe with a clitic after it
        base, _, rest = token.partition("2")
        return analyse(base + rest) or (base if not rest and len(base) >= 3 else None)
    if "-" in token:
        parts = token.split("-")
        if len(parts) == 2 and parts[1].startswith(parts[0]):  # "foto-foto", "foto-fotonya"
            return analyse(parts[1]) or parts[1]
        return analyse("".join(parts))  # "nge-dm", "dm-in", "di-hapus"; else as it is
    return analyse(token)


@dataclass(frozen=True, slots=True)
class IndonesianForm:
    """A line's Indonesian form: its text, its words, and where it differs from the line.

    ``changes`` holds, for each rewritten word, its span in ``text`` and in the line."""

    text: str
    words: frozenset[str]
    changes: tuple[tuple[int, int, int, int], ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """A span of ``text`` as a span of the line; a rewritten word counts whole."""
        return self._map(start, True), self._map(end, False)

    def _map(self, pos: int, is_start: bool) -> int:
        delta = 0
        for form_start, form_end, line_start, line_end in self.changes:
            if pos < form_start or (not is_start and pos == form_start):
                break
            if pos < form_end or (not is_start and pos == form_end):
                return line_start if is_start else line_end
            delta = line_end - form_end
        return pos + delta


def indonesian_form(text: str, words: frozenset[str]) -> IndonesianForm | None:
    """The Indonesian form of a folded line whose words are ``words``; ``None`` when it is the
    line itself (most lines: then nothing is built)."""
    if (
        _SAME.issuperset(words) or all(analyse(word) in (None, word) for word in words - _SAME)
    ) and not (("-" in text or "2" in text or "an" in words) and _GLUE.search(text)):
        return None
    parts: list[str] = []
    changes: list[tuple[int, int, int, int]] = []
    pos = shift = 0
    for m in _WORD.finditer(text):
        token = m.group()
        form = _word_form(token)
        if form is None or form == token:
            continue
        parts.append(text[pos : m.start()])
        parts.append(form)
        start = m.start() + shift
        changes.append((start, start + len(form), m.start(), m.end()))
        shift += len(form) - len(token)
        pos = m.end()
    if not changes:
        return None
    parts.append(text[pos:])
    out = "".join(parts)
    return IndonesianForm(out, frozenset(_WORD_TOKENS.findall(out)), tuple(changes))


_WORD_TOKENS: Final = re.compile(r"[a-z]+|[0-9]+")  # as fold._TOKEN: the rules' anchor words
