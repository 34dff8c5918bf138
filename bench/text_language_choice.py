"""Language choice for the text filter: guess each line's language first, or try every rule?

    PYTHONPATH=src:/path/to/py3langid .venv/bin/python -m bench.text_language_choice

Issue 18 asked to pick the language "by a well-kept library, or by trying every language's
rules on each line", and to measure which is better. This bench measures, on every labelled
corpus of ``tests/data/`` (all four languages, tuning and held-out):

- how often a language identifier names a line's language (``py3langid``, BSD, the maintained
  fork of langid.py, its model shipped in the package; restricted to en, id, es, hi);
- the filter's figures when only the guessed language's rules run on each line (number words
  and spelled "@"/"." stay shared), against all rules on every line (what Parley does);
- lines/s of the identifier alone, next to the filter's own ``screen_line``.

``py3langid`` is not a dependency of Parley: install it anywhere and put it on PYTHONPATH.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from typing import Any

from parley.safety.text import fold, screen_line

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from harness.text_quality import LANGUAGES, SETS, format_table, load_set, score


def main() -> int:
    try:
        langid: Any = importlib.import_module("py3langid")
    except ImportError:
        print("py3langid is not installed; see this module's docstring")
        return 1
    identifier = langid.langid.LanguageIdentifier.from_model_file(
        langid.langid.MODEL_FILE, norm_probs=False
    )
    identifier.set_languages(list(LANGUAGES))

    def guess(text: str) -> str:
        return str(identifier.classify(text)[0])

    lines: list[tuple[str, str]] = []
    for lang in LANGUAGES:
        for which in SETS:
            rows, convs = load_set(lang, which)
            lines += [(lang, r.text) for r in rows]
            lines += [(lang, t) for c in convs for _, t in c.lines]
    print(f"{len(lines)} labelled lines")
    for lang in LANGUAGES:
        mine = [t for la, t in lines if la == lang]
        right = sum(guess(t) == lang for t in mine)
        wrong: dict[str, int] = {}
        for t in mine:
            g = guess(t)
            if g != lang:
                wrong[g] = wrong.get(g, 0) + 1
        print(f"  {lang}: identified {right}/{len(mine)} = {right / len(mine):.3f}; else {wrong}")

    texts = [t for _, t in lines] * 10
    start = time.process_time()
    for t in texts:
        guess(t)
    langid_rate = len(texts) / (time.process_time() - start)
    start = time.process_time()
    for t in texts:
        screen_line(t, mask=True)
    filter_rate = len(texts) / (time.process_time() - start)
    print(f"py3langid alone: {langid_rate:,.0f} lines/s; screen_line (all rules): "
          f"{filter_rate:,.0f} lines/s")  # fmt: skip

    # The filter with only the guessed language's rules on each line.
    original = (screen_line, fold._LANGUAGES)
    import parley.safety.text.contacts as contacts
    import parley.safety.text.risk as risk
    import parley.safety.text.signals as signals

    def only_guessed(fn: Any) -> Any:
        def wrapped(text: str, *args: Any, **kwargs: Any) -> Any:
            fold._LANGUAGES = frozenset({guess(text)})
            try:
                return fn(text, *args, **kwargs)
            finally:
                fold._LANGUAGES = None

        return wrapped

    saved = (signals._signal_spans, contacts._detect)
    signals._signal_spans = only_guessed(saved[0])
    risk._signal_spans = signals._signal_spans  # type: ignore[attr-defined]
    contacts._detect = only_guessed(saved[1])
    try:
        guessed = {(la, w): score(*load_set(la, w)) for la in LANGUAGES for w in SETS}
    finally:
        signals._signal_spans, contacts._detect = saved
        risk._signal_spans = saved[0]  # type: ignore[attr-defined]
        fold._LANGUAGES = original[1]
    every = {(la, w): score(*load_set(la, w)) for la in LANGUAGES for w in SETS}
    print("\nevery language's rules on each line (Parley):")
    print("\n".join(format_table(every)))
    print("\nonly the guessed language's rules on each line:")
    print("\n".join(format_table(guessed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
