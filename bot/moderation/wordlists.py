"""The built-in word lists, kept as text in `terms/` (one term per line, `#` comments say why a
word is in or out) and read once at import."""

from __future__ import annotations

from importlib import resources

import regex


def load(name: str) -> tuple[str, ...]:
    """The terms of `terms/<name>.txt`, in file order."""
    text = resources.files(__package__).joinpath("terms", f"{name}.txt").read_text("utf-8")
    stripped = (line.strip() for line in text.splitlines())
    return tuple(line for line in stripped if line and not line.startswith("#"))


# The starter list a guild's moderators edit (`/flux-admin adult`).
DEFAULT_ADULT_TERMS = load("adult")
# Built in and not editable: next to a minor or a real person, refused even where adult
# content is allowed.
SEXUAL_TERMS = (*DEFAULT_ADULT_TERMS, *load("sexual"))
MINOR_TERMS = load("minors")
REAL_PERSON_TERMS = load("real-people")  # i18n: not shown (a file name)

# An age under 18 written as digits or words: "12 year old", "12-year-old", "12yo", "12 y/o",
# "twelve yrs old", "aged 12". The look-behinds keep "112", "21yo" and "twenty-one" out.
_UNDER_18 = (
    r"(?:1[0-7]|[0-9]|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|thirteen|fourteen|fifteen|sixteen|seventeen)"  # i18n: not shown (matched, not said)
)
MINOR_AGE = regex.compile(
    r"(?<![a-z0-9])(?=[a-z0-9])"
    r"(?<!(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)[\s\-_.]{0,3})"
    rf"(?:{_UNDER_18}[\s\-_.]{{0,3}}(?:years?|yrs?|y)[\s\-_./]{{0,3}}(?:old|o)"
    rf"|(?:aged?|age\s+of)[\s\-_.:]{{0,3}}{_UNDER_18})"
    r"(?![a-z0-9])"
)
