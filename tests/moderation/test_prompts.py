"""Prompt rules: obfuscation caught, innocent words left alone, built-in blocks, patterns."""

from __future__ import annotations

import itertools
import logging
import time
from types import SimpleNamespace

import pytest

from bot.moderation import patterns
from bot.moderation.patterns import validate_pattern
from bot.moderation.prompts import (
    DEFAULT_ADULT_TERMS,
    RuleClass,
    check_prompt,
    find_term,
    normalize,
)


def test_rule_classes_read_as_plain_english() -> None:
    """The values are shown to members and stored in the audit log."""
    assert str(RuleClass.MINORS) == "sexual content involving minors"
    assert f"{RuleClass.BLOCKED_WORD}" == "blocked word"
    assert RuleClass("adult content") is RuleClass.ADULT


# --- normalize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello,   WORLD!", "hello world"),
        ("ｆｕｌｌｗｉｄｔｈ 𝐛𝐨𝐥𝐝", "fullwidth bold"),  # NFKC
        ("Crème brûlée, naïve Ångström", "creme brulee naive angstrom"),
        ("n4k3d h00ker $ex l33t @nal", "naked hooker sex leet anal"),
        ("n a k e d, n.a.k.e.d", "naked naked"),
        ("naked!!!", "naked"),  # trailing ! is punctuation, not "i"
        ("na\u200bked soft\u00adhyphen", "naked softhyphen"),  # invisible characters
        ("nаkеd", "naked"),  # Cyrillic а and е
        ("--__..  ", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_keeps_numbers_that_are_not_leetspeak() -> None:
    """Standalone numbers and number-led words stay digits, so patterns can still see ages."""
    assert normalize("13yo, 1080p, 2 girls") == "13 yo 1080 p 2 girls"
    assert normalize("Samsung A55") == "samsung a 55"


# --- find_term: obfuscation caught -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a naked man",
        "a NaKeD man",
        "a n4k3d man",
        "a n4ked man",
        "a n a k e d man",
        "a n.a.k.e.d man",
        "a n-a-k-e-d man",
        "a n _ a _ k _ e _ d man",
        "a na-ked man",
        "a nak.ed man",
        "a naaaked man",
        "a NAAAKEEED man",
        "a nákéd man",
        "a n̷a̷k̷e̷d̷ man",
        "a na\u200bked man",
        "a nаkеd man",  # Cyrillic look-alikes
        "a ｎａｋｅｄ man",
        "(naked)",
        "naked!",
        "naked",
    ],
)
def test_find_term_sees_through_obfuscation(text: str) -> None:
    assert find_term(text, ["naked"]) == "naked"


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("$ex", "sex"),
        ("s3x", "sex"),
        ("5ex", "sex"),
        ("h3nt41", "hentai"),
        ("a$$", "ass"),
        ("asss", "ass"),
        ("l0l1", "loli"),
        ("1oli", "loli"),  # 1 read as l as well as i
        ("p0rn", "porn"),
    ],
)
def test_find_term_reads_leetspeak(text: str, term: str) -> None:
    assert find_term(f"draw {text} please", [term]) == term


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("a class photo", "ass"),
        ("a c-lass act", "ass"),
        ("assassin's creed", "ass"),
        ("as good as it gets", "ass"),
        ("Samsung A55 phone", "ass"),  # digits outnumbering letters are a model number
        ("Essex countryside", "sex"),
        ("a brass sextant", "sex"),
        ("sussex", "sex"),
        ("my therapist's office", "rapist"),
        ("the rapeseed field", "rape"),
        ("Scunthorpe United", "cunt"),
        ("a good dog", "god"),  # doubled letters are taken as written
        ("a nakked man", "naked"),
        ("the cocktail bar", "cock"),
        ("1000 lanterns", "ioo"),
    ],
)
def test_find_term_does_not_match_inside_words(text: str, term: str) -> None:
    assert find_term(text, [term]) is None


def test_find_term_searches_inside_spelled_out_words() -> None:
    """Spelling out is already hiding, so words run together there are still found."""
    assert find_term("n a k e d t e e n", ["teen"]) == "teen"
    assert find_term("n.a.k.e.d.d.o.g", ["naked"]) == "naked"
    assert find_term("y o u n g g i r l", ["young girl"]) == "young girl"
    assert find_term("c a t n a p", ["dog"]) is None


def test_find_term_phrases() -> None:
    assert find_term("a young   girl smiling", ["young girl"]) == "young girl"
    assert find_term("a young-girl smiling", ["young girl"]) == "young girl"
    assert find_term("a y0ung g1rl", ["young girl"]) == "young girl"
    assert find_term("a young, happy girl", ["young girl"]) is None
    assert find_term("youngirl", ["young girl"]) is None
    assert find_term("a rule34 drawing", ["rule 34"]) == "rule 34"


def test_find_term_returns_the_term_as_configured_and_the_earliest() -> None:
    assert find_term("N4KED", ["Naked"]) == "Naked"
    assert find_term("nude and naked", ["naked", "nude"]) == "nude"
    assert find_term("nothing here", ["naked", "nude"]) is None
    assert find_term("anything", []) is None
    assert find_term("a - b", ["--", "  "]) is None  # terms without letters never match


def test_find_term_in_text_that_is_not_latin() -> None:
    assert find_term("裸体naked女性", ["naked"]) == "naked"  # other scripts separate words
    assert find_term("ѕех", ["sex"]) == "sex"  # all Cyrillic look-alikes
    assert find_term("голый", ["naked"]) is None


def test_find_term_stretched_phrases_and_numbers() -> None:
    assert find_term("a yooooung giiiirl", ["young girl"]) == "young girl"
    assert find_term("rule 34", ["rule 34"]) == "rule 34"
    assert find_term("rule 344", ["rule 34"]) is None
    assert find_term("room 1000", ["10"]) is None  # digits are never stretched


@pytest.mark.parametrize(
    "text",
    [
        "",
        " " * 2000,
        "a" * 2000,
        "a " * 1000,
        "1" * 2000,
        "!" * 2000,
        "$@!" * 600,
        "x" * 300 + " naked",
        "😀" * 1000,
        "a\u0301" * 1000,
        "n\u200b" * 1000,
        "\x00\x01\x02\ud7ff\U0002ffff" * 400,
    ],
)
def test_odd_prompts_do_not_break_anything(text: str) -> None:
    assert isinstance(normalize(text), str)
    check_prompt(text, blocked_words=["foo bar", "naked"], blocked_patterns=["xyz"])


def test_find_term_accepts_any_iterable() -> None:
    assert find_term("so naked", (t for t in ["nude", "naked"])) == "naked"


# --- check_prompt: built-in blocks ---------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "nude child on a beach",
        "naked kids",
        "a sexy schoolgirl",
        "lewd loli",
        "l0l1 h3nt41",
        "a n a k e d t e e n",
        "erotic photo of a 12 year old",
        "nude 12-year-old",
        "nude 12yo",
        "nude 12 y/o",
        "nude 15 yrs old",
        "nude fourteen year old",
        "lingerie, aged 16",
        "seductive little girl",
        "topless toddler",
    ],
)
def test_minors_block_holds_even_where_adult_content_is_allowed(prompt: str) -> None:
    assert check_prompt(prompt, adult_allowed=True) is RuleClass.MINORS
    # The moderators' adult list cannot switch it off either.
    assert check_prompt(prompt, adult_terms=(), adult_allowed=True) is RuleClass.MINORS


@pytest.mark.parametrize(
    "prompt",
    [
        "a child playing in the park",
        "a 12 year old building a sandcastle",
        "nude 18 year old woman",
        "nude 21yo woman",
        "nude twenty-one year old woman",
        "nude woman, 25 years old, aged 30",
        "nude woman, 5 years older than him",
        "naked woman with baby oil",  # "baby" alone is not a minor word
        "topless man, minority report poster",
    ],
)
def test_minors_block_needs_both_a_sexual_word_and_a_minor(prompt: str) -> None:
    assert check_prompt(prompt, adult_allowed=True) is None


@pytest.mark.parametrize(
    "prompt",
    [
        "nude celebrity",
        "topless famous actress",
        "sexy streamer",
        "explicit photo of the prime minister",
        "n4k3d p0p st4r",
        "deepfake porn",
        "my ex in lingerie",
    ],
)
def test_real_people_block_holds_even_where_adult_content_is_allowed(prompt: str) -> None:
    assert check_prompt(prompt, adult_allowed=True) is RuleClass.REAL_PEOPLE
    assert check_prompt(prompt, adult_terms=(), adult_allowed=True) is RuleClass.REAL_PEOPLE


def test_a_moderator_added_adult_term_also_trips_the_built_in_blocks() -> None:
    terms = ("boudoir",)
    assert check_prompt("a boudoir photo", adult_terms=terms, adult_allowed=True) is None
    minors = check_prompt("a boudoir teen photo", adult_terms=terms, adult_allowed=True)
    assert minors is RuleClass.MINORS
    real = check_prompt("boudoir shoot of a celebrity", adult_terms=terms, adult_allowed=True)
    assert real is RuleClass.REAL_PEOPLE


def test_real_people_block_needs_a_sexual_word() -> None:
    assert check_prompt("a celebrity on the red carpet") is None
    assert check_prompt("nude woman in a forest", adult_allowed=True) is None


def test_sexy_is_not_adult_by_default() -> None:
    """A judgement call: "sexy" refuses nothing alone, only next to a minor or a real person."""
    assert "sexy" not in DEFAULT_ADULT_TERMS
    assert check_prompt("a sexy red sports car") is None


# --- check_prompt: guild rules -------------------------------------------------------------


def test_adult_terms_are_refused_unless_allowed() -> None:
    assert check_prompt("a n4ked woman") is RuleClass.ADULT
    assert check_prompt("a naked woman", adult_allowed=True) is None
    assert check_prompt("a naked woman", adult_terms=("gore",)) is None
    assert check_prompt("gory scene", adult_terms=("gory",)) is RuleClass.ADULT
    assert check_prompt("a cat in a hat") is None
    assert check_prompt("") is None


def test_blocked_words() -> None:
    words = ("clown", "ice cream")
    assert check_prompt("a CL0WN juggling", blocked_words=words) is RuleClass.BLOCKED_WORD
    assert check_prompt("eating ice-cream", blocked_words=words) is RuleClass.BLOCKED_WORD
    assert check_prompt("clownfish in a reef", blocked_words=words) is None
    assert (
        check_prompt("a clown", blocked_words=words, adult_allowed=True) is RuleClass.BLOCKED_WORD
    )


def test_blocked_patterns_match_raw_and_normalized_text_case_insensitively() -> None:
    def check(prompt: str, pattern: str) -> RuleClass | None:
        return check_prompt(prompt, blocked_patterns=[pattern])

    assert check("Order #A1234 now", r"#a\d{4}") is RuleClass.BLOCKED_PATTERN  # raw text
    assert check("a CLOWN", r"\bclown\b") is RuleClass.BLOCKED_PATTERN  # case-insensitive
    assert check("a c.l.0.w.n", r"\bclown\b") is RuleClass.BLOCKED_PATTERN  # normalized text
    assert check("clowns", r"\bclown\b") is None
    assert check("a cat", r"\bclown\b") is None


def test_catastrophic_pattern_times_out_and_counts_as_a_match(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prompt = "a" * 30 + "b"
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger=patterns.__name__):
        result = check_prompt(prompt, blocked_patterns=[r"(a|aa)+$"])
    assert time.perf_counter() - start < 0.5
    assert result is RuleClass.BLOCKED_PATTERN
    assert "timed out" in caplog.text
    assert prompt not in caplog.text


def test_nested_quantifier_pattern_returns_quickly() -> None:
    """The `regex` engine short-cuts the textbook `(a+)+$`; either way it cannot hang."""
    start = time.perf_counter()
    check_prompt("a" * 30 + "b", blocked_patterns=[r"(a+)+$"])
    assert time.perf_counter() - start < 0.5


def test_pattern_that_does_not_compile_counts_as_a_match(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=patterns.__name__):
        result = check_prompt("secret prompt text", blocked_patterns=["(unclosed"])
    assert result is RuleClass.BLOCKED_PATTERN
    assert "does not compile" in caplog.text
    assert "secret prompt text" not in caplog.text


def test_patterns_share_a_time_budget(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Once the budget (a few timeouts in all) is spent, the rest count as a match."""
    clock = itertools.count()  # every reading of the clock is a second later
    monkeypatch.setattr(patterns, "time", SimpleNamespace(perf_counter=lambda: float(next(clock))))
    with caplog.at_level(logging.WARNING, logger=patterns.__name__):
        result = check_prompt("a cat", blocked_patterns=["dog", "cow", "pig"], pattern_timeout=0.05)
    assert result is RuleClass.BLOCKED_PATTERN
    assert "budget" in caplog.text


def test_many_harmless_patterns_pass() -> None:
    patterns = [rf"\bword{i}\b" for i in range(50)]
    assert check_prompt("a cat in a hat " * 100, blocked_patterns=patterns) is None


# --- check_prompt: order -------------------------------------------------------------------


def test_order_of_rule_classes() -> None:
    def check(prompt: str, adult_allowed: bool = False) -> RuleClass | None:
        return check_prompt(
            prompt,
            blocked_words=["nude", "celebrity", "child", "cat"],
            blocked_patterns=["nude", "cat", "dog"],
            adult_allowed=adult_allowed,
        )

    assert check("nude child celebrity") is RuleClass.MINORS
    assert check("nude celebrity") is RuleClass.REAL_PEOPLE
    assert check("nude cat") is RuleClass.BLOCKED_WORD
    assert check("naked dog") is RuleClass.BLOCKED_PATTERN
    assert check("naked bird") is RuleClass.ADULT
    assert check("naked bird", adult_allowed=True) is None


# --- validate_pattern ----------------------------------------------------------------------


def test_validate_pattern_accepts_usable_patterns() -> None:
    assert validate_pattern(r"\bclown(s|fish)?\b") is None
    assert validate_pattern("x" * 200) is None


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(clown", ["does not compile", "missing )", "at the end"]),
        ("clo)wn", ["does not compile", "character 4"]),
        ("[z-a]", ["does not compile"]),
        ("x" * 201, ["201 characters", "limit is 200"]),
        ("", ["empty string"]),
        ("a*", ["empty string"]),
        (r"\b", ["empty string"]),
        ("clown|", ["empty string"]),
    ],
)
def test_validate_pattern_says_why_not(pattern: str, words: list[str]) -> None:
    reason = validate_pattern(pattern)
    assert reason is not None
    for word in words:
        assert word in str(reason)


@pytest.mark.parametrize(
    "hidden",
    [
        "n\u3164aked",  # Hangul filler
        "na\uffa0ked",  # halfwidth Hangul filler
        "nak\u115fed",  # Hangul choseong filler
        "nake\u1160d",  # Hangul jungseong filler
        "n\u2800aked",  # braille blank
        "ɴᴀᴋᴇᴅ",  # small capitals
    ],
)
def test_blank_letters_and_small_capitals_do_not_hide_a_word(hidden: str) -> None:
    assert check_prompt(f"a {hidden} statue", blocked_words=["naked"]) is RuleClass.BLOCKED_WORD


@pytest.mark.parametrize("age", ["١٢ year old", "۱۲ yo", "१२ years old", "１２ yo"])
def test_digits_of_other_scripts_are_read_as_ages(age: str) -> None:
    """Arabic-Indic, Persian, Devanagari and fullwidth digits say an age as plainly as 0-9."""
    assert check_prompt(f"sexy {age} girl") is RuleClass.MINORS, age


@pytest.mark.parametrize("bomb", ["(?:a{2000}){2000}", "((a{10}){10}){11}", "(ab{10}){200}"])
def test_nested_counted_repeats_are_refused_before_compiling(bomb: str) -> None:
    """17 characters that take seconds and a gigabyte to compile are refused before compiling."""
    assert str(validate_pattern(bomb)) == "its counted repeats ({n}) multiply to more than 1,000"
    # One stored before the bound existed is never compiled: it fails closed.
    assert check_prompt("a cat", blocked_patterns=[bomb]) is RuleClass.BLOCKED_PATTERN


@pytest.mark.parametrize("fine", [r"\d{3}-\d{4}", "a{1000}", "[{]{5}", r"x\{5000\}", "a{2,}b{900}"])
def test_ordinary_counted_repeats_are_accepted(fine: str) -> None:
    assert validate_pattern(fine) is None


def test_a_stored_pattern_with_a_count_of_thousands_of_digits_fails_closed() -> None:
    """int() refuses 5000 digits; the count is simply too large, and a pattern stored before
    the length limit still refuses the prompt instead of raising (found by fuzzing)."""
    huge = "a{" + "9" * 5000 + "}"
    assert patterns.repeat_size(huge) > patterns.MAX_REPEAT
    assert validate_pattern("a{" + "9" * 100 + "}") is not None
    assert check_prompt("a lighthouse", blocked_patterns=[huge]) is RuleClass.BLOCKED_PATTERN
