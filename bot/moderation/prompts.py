"""Prompt rules: may this prompt go to the paid image model under this guild's rules?

A tripwire, not a classifier. It catches listed words and the cheap ways of hiding them
(leetspeak, s p a c i n g, p.u.n.c.t.u.a.t.i.o.n, stretched letters, accents, invisible
characters, look-alike Cyrillic/Greek letters) in a fraction of a millisecond for an
ordinary prompt, before any paid work. Paraphrase, other languages and misspellings slip
through; the model provider's own filter and the guild's moderators are the layers behind it.
"""

from __future__ import annotations

import functools
import logging
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import regex

from bot.moderation import lookalikes
from bot.moderation.patterns import pattern_hit
from bot.moderation.wordlists import (
    DEFAULT_ADULT_TERMS,
    MINOR_AGE,
    MINOR_TERMS,
    REAL_PERSON_TERMS,
    SEXUAL_TERMS,
)

log = logging.getLogger(__name__)


class RuleClass(StrEnum):
    """Why a prompt was refused. The value is the audit log's `detail` (plain English for the
    moderators); the member reads a translated sentence for each (bot/moderation/gate.py)."""

    BLOCKED_WORD = "blocked word"  # i18n: not shown
    BLOCKED_PATTERN = "blocked pattern"  # i18n: not shown
    ADULT = "adult content"  # i18n: not shown
    MINORS = "sexual content involving minors"  # i18n: not shown
    REAL_PEOPLE = "sexualised depiction of a real person"  # i18n: not shown


# --- Reading the text -------------------------------------------------------------------------

# Letters NFKD does not take apart, and Cyrillic/Greek letters that pass for Latin ones.
_FOLD = {
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "ħ": "h",
    "ı": "i",
    "ŧ": "t",
    "ƀ": "b",
    "ɨ": "i",
    "ɑ": "a",
    "ɡ": "g",
    "ŋ": "n",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
    "а": "a",
    "в": "b",
    "е": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ј": "j",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "һ": "h",
    "ү": "y",
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
}
# str.translate with a dict is slow on non-ASCII text; one scan plus a lookup per hit is not.
_FOLD_CHARS = re.compile(f"[{''.join(_FOLD)}]")
# Accents and other combining marks, and invisible format characters (zero-width space, soft
# hyphen, joiners) that would otherwise split a word without showing.
_MARKS = regex.compile(r"[\p{M}\p{Cf}]+")

# "Word" characters: letters, and the digits and symbols leetspeak uses for letters. "|" and
# "+" are left out: they separate words in prompts far more often than they spell l or t.
_W = "a-z0-9@$!"
_LEET_DIGITS = frozenset("01345789")
_LEET_I = str.maketrans("01345789@$!", "oieastbgasi")
_LEET_L = str.maketrans("01345789@$!", "oleastbgasi")
_LEET_SYMBOLS = str.maketrans("@$!", "asi")

# A run of single characters split by the same little space or punctuation: "n a k e d",
# "n.a.k.e.d", "n - a - k - e - d". The same separator throughout keeps "n a k e d, x" apart;
# three letters at least keep "a c.l.o.w.n" from starting a run at the article.
_SPACED = re.compile(rf"(?<![{_W}])[{_W}]([^{_W}]{{1,3}})[{_W}](?:\1[{_W}](?![{_W}]))+")
_SPACED_CHAR = re.compile(rf"[{_W}]")
_LEET_CHARS = "0123456789@$!"
_LEADING_NUMBER = re.compile(r"[0-9]{2}")
_W_RUN = re.compile(rf"[{_W}]+")
_NOT_W = re.compile(rf"[^{_W}]+")
_PLAIN_WORD = re.compile(r"[a-z]+|[0-9]+")
# ASCII fast path: str.translate then split is several times quicker than a regex scan.
_ASCII_NOT_W = "".join(chr(i) for i in range(128) if not re.fullmatch(f"[{_W}]", chr(i)))
_ASCII_NOT_W_TO_SPACE = str.maketrans(_ASCII_NOT_W, " " * len(_ASCII_NOT_W))
_EDGE_PUNCT = "".join(c for c in string.punctuation if c not in "@$!")
# Stretched letters collapse to one in lookup keys; digits are never stretched ("100" ≠ "10").
# Deleting the repeats (an empty replacement) keeps re.sub in C; a "\1" template would not.
_SQUEEZE = re.compile(r"(?<=([a-z]))\1+")
_RUNS = re.compile(r"([a-z])\1*|[^a-z]")
_DIGITS_OR_NOT = re.compile(r"[0-9]+|[^0-9]+")
_ASCII_NOT_LETTERS = "".join(chr(i) for i in range(128) if not "a" <= chr(i) <= "z")
_ASCII_NOT_LETTERS_TO_SPACE = str.maketrans(_ASCII_NOT_LETTERS, " " * len(_ASCII_NOT_LETTERS))


def _fold(text: str) -> str:
    """Lower-case, compatibility forms (fullwidth, 𝐛𝐨𝐥𝐝), no accents or invisible characters."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return text
    text = _MARKS.sub("", unicodedata.normalize("NFKD", lookalikes.unhide(text)))
    return _FOLD_CHARS.sub(lambda m: _FOLD[m.group()], text)


def _atoms(folded: str) -> list[str]:
    """The runs of word characters (letters, leetspeak digits and symbols)."""
    if folded.isascii():
        return folded.translate(_ASCII_NOT_W_TO_SPACE).split()
    return _W_RUN.findall(folded)


def _maybe_spaced(atoms: list[str]) -> bool:
    """Whether three one-character atoms follow each other, so spelled-out words may be there."""
    try:
        return b"\x01\x01\x01" in bytes(map(len, atoms))
    except ValueError:  # an atom longer than 255 characters: take the thorough path
        return True


def _leet_atom(atom: str, table: dict[int, int]) -> str:
    """An atom with digits or symbols in it: read as letters if it is one word in disguise
    ("n4k3d", "$ex", "h00ker"), kept as numbers otherwise ("A55", "13yo", "1080p")."""
    core = atom.rstrip("!")  # "naked!!" is punctuation, not "nakedii"
    if core.isalpha():
        return core
    letters = sum(c.isalpha() for c in core)
    digits = [c for c in core if c.isdigit()]
    if not letters:
        return f" {''.join(digits)} "
    symbols = len(core) - letters - len(digits)
    if (
        len(digits) <= letters + symbols
        and _LEET_DIGITS.issuperset(digits)
        and not _LEADING_NUMBER.match(core)
    ):
        return f" {core.translate(table)} "
    return f" {' '.join(_DIGITS_OR_NOT.findall(core.translate(_LEET_SYMBOLS)))} "


def _leet_reading(folded: str, table: dict[int, int]) -> tuple[str, list[str]]:
    """The text as leetspeak-decoded words, and the words that were spelled out letter by
    letter (they may hold several words run together: "n a k e d t e e n")."""
    spelled: list[str] = []
    atoms = _atoms(folded)
    if _maybe_spaced(atoms):

        def join(match: re.Match[str]) -> str:
            chars = "".join(_SPACED_CHAR.findall(match.group())).strip("!")
            if not any(c.isalpha() for c in chars):
                return match.group()
            spelled.append(" ".join(_leet_atom(chars, table).split()))
            return f" {chars} "

        atoms = _atoms(_SPACED.sub(join, folded))
    text = " ".join(a if a.isalpha() else _leet_atom(a, table) for a in atoms)
    return " ".join(text.split()), [w for chars in spelled for w in chars.split()]


def normalize(text: str) -> str:
    """Lower-case, NFKC, strip accents/diacritics, map common leetspeak (0→o, 1→i, 3→e, 4→a,
    5→s, 7→t, 8→b, 9→g, @→a, $→s, !→i), join s p a c e d letters, and collapse any run of
    other characters to a single space.

    Digits are read as letters only inside a word that is mostly letters ("n4k3d" → "naked");
    standalone numbers and number-led words stay digits ("13yo" → "13 yo", "A55" → "a 55"),
    so patterns still see ages and sizes.
    """
    return _leet_reading(_fold(text), _LEET_I)[0]


def _has_stretch(text: str) -> bool:
    """Whether a character appears three times in a row, without a regex scan: XOR the text
    with itself shifted by one, and look for two zero bytes in a row."""
    data = text.encode()
    if len(data) < 3:
        return False
    shifted = int.from_bytes(data[:-1], "big") ^ int.from_bytes(data[1:], "big")
    return b"\x00\x00" in shifted.to_bytes(len(data) - 1, "big")


def _joined_words(folded: str, tables: Sequence[dict[int, int]]) -> list[str]:
    """Chunks with punctuation inside ("na-ked", "nak.ed"), read as one word each."""
    words: list[str] = []
    for chunk in folded.split():
        if chunk.isalnum():
            continue
        core = chunk.strip(_EDGE_PUNCT)
        if core.rstrip("!").isalnum():
            continue
        joined = _NOT_W.sub("", core)
        if not joined:
            continue
        if joined.isascii() and joined.isalpha():
            words.append(joined)
        else:
            words.extend(w for table in tables for w in _leet_reading(joined, table)[0].split())
    return words


class _Reading:
    """One way of reading the prompt as words, and the spelled-out words (squeezed, with their
    letter counts) to search inside."""

    __slots__ = (
        "_squeezed",
        "present",
        "spelled",
        "spelled_runs",  # i18n: not shown (an attribute name)
        "stretched",
        "words",
    )

    def __init__(self, words: list[str], spelled: Iterable[str] = ()) -> None:
        self.words = words
        self.present = frozenset(words)
        self.stretched = _has_stretch(" ".join(words))
        # All spelled-out words squeezed, joined by "|" (which no term contains), with the
        # letter count of each character of that string.
        joined = "|".join(dict.fromkeys(spelled))
        self.spelled = _SQUEEZE.sub("", joined)
        self.spelled_runs = _runs([joined])
        self._squeezed: tuple[list[str], frozenset[str]] | None = None

    def squeezed(self) -> tuple[list[str], frozenset[str]]:
        """The words with stretched letters collapsed ("naaaked" → "naked", "good" → "god")."""
        if self._squeezed is None:
            words = _SQUEEZE.sub("", " ".join(self.words)).split()
            self._squeezed = (words, frozenset(words))
        return self._squeezed


class _Prompt:
    """A prompt read every way the matcher needs, computed once per check.

    The readings, in order: plain words (runs of letters, runs of digits); leetspeak read as
    letters (1 as i), then with 1 as l; chunks with punctuation inside ("na-ked") joined up.
    Prompts without digits, symbols or one-letter runs (most) skip the leetspeak readings.
    """

    __slots__ = ("folded", "normalized", "readings")

    def __init__(self, text: str) -> None:
        self.folded = folded = _fold(text)
        atoms = _atoms(folded)
        if folded.isascii() and not any(c in folded for c in string.digits):
            plain = folded.translate(_ASCII_NOT_LETTERS_TO_SPACE).split()
        else:
            plain = _PLAIN_WORD.findall(folded)
        self.normalized = " ".join(plain)
        self.readings = [_Reading(plain)]
        tables = [_LEET_I, _LEET_L] if "1" in folded else [_LEET_I]
        if any(c in folded for c in _LEET_CHARS) or _maybe_spaced(atoms):
            for table in tables:
                normalized, spelled = _leet_reading(folded, table)
                if table is _LEET_I:
                    self.normalized = normalized
                words = normalized.split()
                if words != self.readings[-1].words or spelled:
                    self.readings.append(_Reading(words, spelled))
        if joined := _joined_words(folded, tables):
            self.readings.append(_Reading(joined))


def _runs(words: Iterable[str]) -> tuple[int, ...]:
    return tuple(len(m.group()) for w in words for m in _RUNS.finditer(w))


def _stretch_ok(found: tuple[int, ...], wanted: tuple[int, ...], *, inside: bool = False) -> bool:
    """Doubled letters are taken as written ("good" is not "god"); three or more of a letter
    are a stretched word ("naaaked" is "naked", "asss" is "ass"). Inside a spelled-out word the
    first and last letters may run on into the next word ("n a k e d d o g")."""
    if len(found) != len(wanted):
        return False
    if inside and (found[0] < wanted[0] or found[-1] < wanted[-1]):
        return False
    last = len(found) - 1
    return all(
        f == w or (f >= 3 and f >= w) or (inside and i in (0, last))
        for i, (f, w) in enumerate(zip(found, wanted, strict=True))
    )


_Entry = tuple[int, str, tuple[int, ...]]  # order in the list, term as configured, letter counts
_Hit = tuple[int, int, str]  # position in the reading, order in the list, term as configured


@dataclass(frozen=True, slots=True)
class _Table:
    """Terms keyed by their words joined with spaces. Phrases are found from their first
    word, so a prompt costs one set intersection per table, not one per phrase length."""

    words: frozenset[str]  # keys of one-word terms
    heads: Mapping[str, tuple[int, ...]]  # first word of a phrase → the phrase lengths
    entries: Mapping[str, tuple[_Entry, ...]]

    @classmethod
    def build(cls, keyed: Iterable[tuple[list[str], _Entry]]) -> _Table:
        entries: dict[str, list[_Entry]] = {}
        heads: dict[str, set[int]] = {}
        for words, entry in keyed:
            entries.setdefault(" ".join(words), []).append(entry)
            if len(words) > 1:
                heads.setdefault(words[0], set()).add(len(words))
        return cls(
            words=frozenset(key for key in entries if " " not in key),
            heads={head: tuple(sorted(sizes)) for head, sizes in heads.items()},
            entries={key: tuple(found) for key, found in entries.items()},
        )

    def hits(
        self, words: list[str], present: frozenset[str], written: list[str] | None = None
    ) -> Iterable[_Hit]:
        """Where the terms are in `words`. With `written` (the words before squeezing), each
        hit must also pass the stretched-letters rule."""
        for key in self.words & present:
            for pos in (i for i, word in enumerate(words) if word == key):
                yield from self._check(key, pos, 1, written)
                if written is None:
                    break  # the first place is the earliest: enough
        for head in self.heads.keys() & present:
            for pos in (i for i, word in enumerate(words) if word == head):
                for n in self.heads[head]:
                    key = " ".join(words[pos : pos + n])
                    if key in self.entries:
                        yield from self._check(key, pos, n, written)

    def _check(self, key: str, pos: int, n: int, written: list[str] | None) -> Iterable[_Hit]:
        if written is None:
            order, term, _ = self.entries[key][0]
            yield pos, order, term
            return
        found = _runs(written[pos : pos + n])
        for order, term, wanted in self.entries[key]:
            if _stretch_ok(found, wanted):
                yield pos, order, term


@dataclass(frozen=True, slots=True)
class _Index:
    """A term list ready for lookups: by its words as written; by its words squeezed (for
    prompts with stretched letters); squeezed without spaces (to search inside spelled-out
    words)."""

    exact: _Table
    squeezed: _Table
    inside: tuple[tuple[str, _Entry], ...]


@functools.lru_cache(maxsize=256)
def _index(terms: tuple[str, ...]) -> _Index:
    exact: list[tuple[list[str], _Entry]] = []
    squeezed: list[tuple[list[str], _Entry]] = []
    inside: list[tuple[str, _Entry]] = []
    for order, term in enumerate(terms):
        words = normalize(term).split()
        if not words:
            continue  # a term without letters or digits can never match a word
        entry = (order, term, _runs(words))
        exact.append((words, entry))
        squeezed.append(([_SQUEEZE.sub("", w) for w in words], entry))
        whole = "".join(words)
        solid = _SQUEEZE.sub("", whole)
        inside.append((solid, (order, term, _runs([whole]))))
    return _Index(
        exact=_Table.build(exact),
        squeezed=_Table.build(squeezed),
        inside=tuple(inside),
    )


def _find(prompt: _Prompt, index: _Index) -> str | None:
    """The earliest term of `index` in the first reading that has one."""
    for reading in prompt.readings:
        hits = list(index.exact.hits(reading.words, reading.present))
        if reading.stretched:
            hits.extend(index.squeezed.hits(*reading.squeezed(), written=reading.words))
        if not hits and reading.spelled:
            hits.extend(_find_inside(reading, index))
        if hits:
            return min(hits)[2]
    return None


def _find_inside(reading: _Reading, index: _Index) -> Iterable[_Hit]:
    """Terms inside spelled-out words: "n a k e d t e e n" holds two. Spelling a word out is
    already an attempt to hide it, so here a term may sit inside a longer word. One str.find
    per term over all spelled-out words is far cheaper than trying every split."""
    text, runs = reading.spelled, reading.spelled_runs
    for solid, (order, term, wanted) in index.inside:
        start = text.find(solid)
        while start != -1:
            if _stretch_ok(runs[start : start + len(solid)], wanted, inside=True):
                yield start, order, term
                break
            start = text.find(solid, start + 1)


def find_term(text: str, terms: Iterable[str]) -> str | None:
    """The first term (word or multi-word phrase) found in `text` as whole words,
    case-insensitively, resistant to simple obfuscation: leetspeak ("n4ked"), spacing or
    punctuation inside the word ("n a k e d", "n.a.k.e.d", "na-ked"), stretched letters
    ("naaaked"), accents, invisible characters, look-alike letters and mixed case. Never
    matches inside another word ("class" is not "ass", "Essex" is not "sex", "therapist" is
    not "rapist"), except inside words spelled out letter by letter ("n a k e d t e e n").
    Returns the term as configured, or None.

    Terms match as written: plurals and other inflections must be listed. A word spaced out
    only in part ("n a ked") is not caught.
    """
    return _find(_Prompt(text), _index(tuple(terms)))


# --- The check --------------------------------------------------------------------------------


def check_prompt(
    prompt: str,
    *,
    blocked_words: Sequence[str] = (),
    blocked_patterns: Sequence[str] = (),
    adult_terms: Sequence[str] = DEFAULT_ADULT_TERMS,
    adult_allowed: bool = False,
    pattern_timeout: float = 0.05,
) -> RuleClass | None:
    """The class of the first rule the prompt breaks, or None.

    Order: MINORS and REAL_PEOPLE (built in, always on, whatever `adult_allowed` says), then the
    guild's BLOCKED_WORD and BLOCKED_PATTERN lists, then ADULT when adult content is not allowed.

    MINORS is a sexual word (built in, or one of `adult_terms`) together with a word for a minor
    or an age under 18. REAL_PEOPLE is such a word together with a word saying the subject is real
    ("celebrity", "politician", "streamer", "my ex", ...). Both are tripwires on word lists:
    they know no names, so "nude <famous name>" passes them, and a sexual word next to an
    innocent use of an indicator ("sex ed for kids", "explicit lyrics singer") is refused.

    Blocked patterns are searched in the raw prompt and in its normalized form, each search
    limited to `pattern_timeout` seconds (which must be positive) and all of them together to a
    few timeouts; a pattern that does not compile or runs out of time counts as a match.
    """
    text = _Prompt(prompt)
    # The guild's adult terms count as sexual words too: a term a moderator added ("boudoir")
    # next to "teen" must not slip past the built-in block.
    adult = _index(tuple(adult_terms))
    if _find(text, _index(SEXUAL_TERMS)) is not None or _find(text, adult) is not None:
        if _find(text, _index(MINOR_TERMS)) is not None or MINOR_AGE.search(text.folded):
            return RuleClass.MINORS
        if _find(text, _index(REAL_PERSON_TERMS)) is not None:
            return RuleClass.REAL_PEOPLE
    if blocked_words and _find(text, _index(tuple(blocked_words))) is not None:
        return RuleClass.BLOCKED_WORD
    if blocked_patterns and pattern_hit(
        blocked_patterns, tuple(dict.fromkeys((prompt, text.normalized))), pattern_timeout
    ):
        return RuleClass.BLOCKED_PATTERN
    if not adult_allowed and _find(text, adult) is not None:
        return RuleClass.ADULT
    return None
