"""The jobs part speaks the member's language: failures, refusals, notes and descriptions are
`Text` rendered from the jobs catalog, while what admins read stays English."""

from __future__ import annotations

import pickle

import pytest

from bot import i18n, images
from bot.apiframe import errors
from bot.i18n import render
from bot.jobs import actions, describe, failures
from bot.jobs.defaults import MEMBER_DEFAULTS, MemberDefaults, cap
from bot.jobs.defaults import describe as shown_defaults
from bot.jobs.options import Attached, options_problem
from bot.jobs.request import Generate, Outpaint, Upscale

IMAGE = "https://cdn.example.com/a.png"


def test_a_failure_reads_in_german_with_german_numbers_and_english_for_admins() -> None:
    """The member's message is German with `1.234`; the admin detail is unchanged English."""
    failure = failures.from_exception(
        errors.InsufficientCredits("upstream text", required=1234, available=3)
    )
    german = failure.member_message.render("de")
    assert german.startswith("Der Bot hat keine Bild-Credits mehr")
    assert "1.234" in german
    assert "3" in german
    assert failure.admin_detail == "Apiframe account out of credits: needed 1234, available 3"
    assert failure.member_message.render("en").startswith(
        "The bot is out of image credits: this needed 1,234"
    )


@pytest.mark.parametrize("kind", list(failures.FailureKind))
def test_every_failure_kind_has_a_message_in_every_language(kind: failures.FailureKind) -> None:
    """No failure falls back to English in a language with a catalog."""
    message = failures.MEMBER_MESSAGES[kind]
    english = message.render("en")
    for lang in ("de", "fr", "es", "pt_BR", "ja"):
        assert message.render(lang) != english, (kind, lang)


def test_a_provider_reason_is_one_translated_sentence() -> None:
    """The reason and the advice are one message, so the translation reads as one."""
    failure = failures.from_job_error("Generation timed out")
    assert failure.member_message.render("ja") == (
        "画像モデル側で時間がかかりすぎたため、処理が中止されました。"
        "少し待ってからもう一度お試しください。今回の試行はカウントされません。"
    )
    assert failures.timed_out(900).member_message.render("es-ES").startswith("Esto está tardando")


def test_describe_reads_in_japanese() -> None:
    """The settings line of each kind of job, in the reader's language."""
    request = Generate(
        resolution="2MP",
        aspect_ratio="9:16",
        references=(IMAGE, IMAGE),
        strength=0.6,
        upsample=True,
        seed=5,
    )
    assert describe.summary(request, "ja") == (
        "解像度 2MP · アスペクト比 9:16 · シード 5 · 形式 JPG"
        " · 参照画像 2枚、強さ0.6 · プロンプト拡張 オン"
    )
    assert describe.summary(Upscale(image=IMAGE, seed=1, mode="creative"), "de") == (
        "Hochskalierung Kreativ (Clarity) ×2 · Seed 1 · Format JPG"
    )
    assert describe.summary(Outpaint(image=IMAGE, seed=2, preset="Top outpaint"), "fr") == (
        "Extension Étendre ⬆ · Graine 2 · Type de fichier JPG"
    )
    # Unchanged in English, and a decimal strength follows the locale.
    assert describe.summary(Generate(resolution="1MP", seed=1)) == (
        "Resolution 1MP · Aspect 1:1 · Seed 1 · Format JPG"
    )
    one = Generate(resolution="1MP", references=(IMAGE,), strength=0.85)
    assert render(describe.reference_label(one) or "", "de") == "Stärke 0,85"


def test_kinds_are_counted_in_the_readers_language() -> None:
    assert describe.kinds_summary([{"generate": 1234, "outpaint": 2}], "de") == (
        "Erzeugung 1.234 · Herauszoomen / Erweitern 2"
    )
    assert describe.kinds_summary([{"upscale": 3}]) == "Upscale 3"
    assert describe.kinds_summary([]) == ""


def test_kind_labels_are_offered_to_discord_as_choice_names() -> None:
    """/flux-history's kind choices use these msgids: the command translator finds them."""
    for label in describe.KIND_LABELS.values():
        for lang in ("de", "fr", "es", "pt_BR", "ja"):
            translated = i18n.catalogs().lookup(lang, label.msgid)
            assert translated is not None, (label, lang)
            assert 1 <= len(translated) <= 100, (label, lang)


def test_button_labels_fit_discord_in_every_language() -> None:
    """Discord takes button labels of at most 80 characters."""
    for action in actions.ACTIONS.values():
        for lang in i18n.LANGUAGES:
            assert 1 <= len(action.label.render(lang)) <= 80, (action, lang)
    with pytest.raises(actions.Refused) as refused:
        actions.derive(
            "square",
            Generate(resolution="1MP", seed=1),
            image=IMAGE,
            size=(512, 512),
            origin=None,
            default_resolution="1MP",
        )
    assert refused.value.text.render("pt-BR") == "Esta imagem já é quadrada."


def test_capped_defaults_are_told_in_french() -> None:
    """Each note is a whole sentence, for the member's defaults or a named preset."""
    request = Generate(resolution="4MP", upsample=True, seed=1)
    sources = {"resolution": MEMBER_DEFAULTS, "upsample": "cinéma"}
    _, notes = cap(request, sources, largest="2MP", upsampling_allowed=False)
    assert [note.render("fr") for note in notes] == [
        "Ta valeur par défaut 4 MP est limitée à 2 MP ici.",
        "L'enrichissement du prompt de ton préréglage « cinéma » est désactivé sur ce serveur,"
        " il a donc été retiré.",
    ]
    shown = shown_defaults(MemberDefaults(private=True, upsample=False))
    assert [(render(a, "es"), render(b, "es")) for a, b in shown] == [
        ("Mejora del prompt", "desactivado"),
        ("Privado", "activado"),
    ]


def test_option_problems_keep_code_and_group_numbers() -> None:
    """`code` stays as typed (option names are what the member types), numbers localized."""
    too_long = options_problem("x" * 2001, [], None)
    assert too_long is not None
    assert too_long.render("de") == (
        "Dein Prompt hat 2.001 Zeichen; bitte bleib bei höchstens 2.000."
    )
    assert too_long.render("en") == ("Your prompt is 2,001 characters; please keep it to 2,000.")
    not_image = options_problem("a cat", [Attached("notes.txt", "text/plain", 10)], None)
    assert not_image is not None
    assert not_image.render("ja").startswith("`notes.txt`は画像ではありません。")


def test_an_image_problem_carries_its_text_across_processes() -> None:
    """Raised in an encoding process, the problem comes back with its `Text` whole."""
    try:
        images.check_reference(b"just some text, really")
    except images.ImageProblem as problem:
        back = pickle.loads(pickle.dumps(problem))  # noqa: S301 (our own bytes)
    else:
        pytest.fail("text is not an image")
    assert isinstance(back, images.ImageProblem)
    assert str(back) == "that file is not an image I can read"
    assert render(back.text, "fr") == "ce fichier n'est pas une image que je sais lire"
