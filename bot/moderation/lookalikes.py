"""Characters that hide a word from the prompt rules without changing how it reads: blank
letters that split it (`nㅤaked`), small capitals (`ɴᴀᴋᴇᴅ`) and digits of other scripts (`١٢`),
which NFKC leaves alone."""

from __future__ import annotations

import functools
import unicodedata

# Hangul fillers and the braille blank: letters (or a symbol) that render as nothing.
BLANKS = "\u115f\u1160\u3164\uffa0\u2800"
_SEARCHED = range(0x20000)  # every small capital and decimal digit lives below this


def warm_up() -> None:
    """Build the table now (about 60 ms; start-up calls this off the event loop)."""
    _table()


@functools.cache  # built once, by warm_up or the first non-ASCII prompt
def _table() -> dict[int, str | None]:
    table: dict[int, str | None] = dict.fromkeys(map(ord, BLANKS))
    for code in _SEARCHED:
        char = chr(code)
        if char.isascii():
            continue
        if unicodedata.category(char) == "Nd":
            table[code] = str(unicodedata.digit(char))
            continue
        name = unicodedata.name(char, "")
        prefix = "LATIN LETTER SMALL CAPITAL "  # i18n: not shown (a Unicode name)
        if name.startswith(prefix) and len(name) == len(prefix) + 1:
            table[code] = name[-1].lower()
    return table


def unhide(text: str) -> str:
    """`text` with those characters read as the letters and digits they stand for."""
    return text.translate(_table())
