"""/flux-admin and /flux-usage in the reader's language: policy values, changes, the overview,
the usage report and the chart's labels."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot import charts, i18n
from bot.i18n import t
from bot.moderation.policy import GuildPolicy, Tier
from bot.storage.guilds import DayTotals, MemberTotals, PolicyRefused
from cogs.admin import _format, _report
from cogs.admin._editing import refusal
from cogs.admin._terms import added


def test_a_change_reads_in_the_moderators_language_with_local_numbers() -> None:
    before = GuildPolicy()
    after = GuildPolicy(per_day=1234, cooldown_seconds=30, blocked_words=("drache",))
    assert _format.diff(before, after, "de") == [
        ("Bilder pro Tag", "kein Limit", "1.234"),
        ("Wartezeit", "keine", "30 s"),
        ("Gesperrte Wörter", "keine", "1 Eintrag (+`drache`)"),
    ]
    assert _format.diff(before, after, "en")[0] == ("Images per day", "no limit", "1,234")
    assert _format.diff(before, after)[2][2] == "1 entry (+`drache`)"


def test_plural_forms_follow_the_language() -> None:
    words = ("a", "b", "c")
    assert _format.value_text("adult_terms", words, "fr") == "3 entrées"
    assert _format.value_text("monthly_budget", 1, "es") == "1 crédito"
    assert _format.value_text("monthly_budget", 1_000_000, "es") == "1.000.000 de créditos"
    assert _format.value_text("monthly_budget", 5, "ja") == "5クレジット"


def test_a_tier_and_flags_read_in_the_language() -> None:
    tier = Tier(role_id=7, per_day=None, max_resolution="2MP")
    assert _format.value_text("tiers", (tier,), "de") == (
        "<@&7>: kein Limit/Tag, wie für alle/Monat, bis 2 MP"
    )
    assert _format.value_text("adult_allowed", True, "pt_BR") == "ativado"
    assert _format.value_text("allowed_roles", (), "fr") == "tout le monde"


def test_the_overview_shows_the_language_of_posts_for_everyone() -> None:
    following = dict(_format.sections(GuildPolicy(), "de", "fr"))
    assert following["Sprache"] == "Sprache der Beiträge für alle: Serverstandard (Français)"
    chosen = dict(_format.sections(GuildPolicy(language="ja"), "en", "de"))
    assert chosen["Language"] == "Language of posts everyone reads: 日本語"
    embed = _report.settings_embed(GuildPolicy(), "ja", "en-US")
    assert embed.title == "画像ボットの設定"
    assert embed.fields[-1].value == "全員が読む投稿の言語: サーバーの既定（English）"


def test_a_language_change_names_both_languages() -> None:
    change = _format.diff(GuildPolicy(), GuildPolicy(language="pt_BR"), "es")
    assert change == [
        (
            "Idioma de las publicaciones para todos",
            "predeterminado del servidor",
            "Português do Brasil",
        )
    ]


def test_the_usage_report_is_one_sentence_per_language() -> None:
    rows = [
        MemberTotals(user_id=5, generations=2, credits=20, failures=1),
        MemberTotals(user_id=0, generations=1, credits=7, failures=0),
    ]
    _, _, label = _format.period_bounds("today", datetime(2026, 12, 3, tzinfo=UTC))
    german = _report.usage_embed(rows, label, "de")
    assert german.title == "Nutzung des Bild-Bots: heute"
    assert german.description == (
        "**3** Bilder, **27** Credits, **1** fehlgeschlagen (nicht gezählt) von 2 Mitgliedern."
    )
    assert german.fields[0].value == (
        "1. <@5>: 2 Bilder, 20 Credits, 1 fehlgeschlagen\n"
        "2. vergessene Mitglieder: 1 Bild, 7 Credits"
    )
    english = _report.usage_embed(rows, label)
    assert english.description == (
        "**3** images, **27** credits, **1** failed (not counted) by 2 members."
    )


def test_a_refused_edit_keeps_its_text_for_the_moderators_language() -> None:
    with pytest.raises(PolicyRefused) as refused:
        added(("x",), "x", 10)
    assert i18n.render(refusal(refused.value), "fr") == "C'est déjà dans la liste."
    assert str(refused.value) == "That is already on the list."
    assert refusal(PolicyRefused("plain")) == "plain"


def test_chart_day_labels_follow_the_locale() -> None:
    days = [DayTotals(day=date(2026, 11, d), images=1, credits=1) for d in (3, 4)]
    assert [b.label for b in charts.buckets(days, "de")] == ["3. Nov.", "4. Nov."]
    assert [b.label for b in charts.buckets(days)] == ["Nov 3", "Nov 4"]


def test_the_chart_speaks_a_language_only_where_the_fonts_can_draw_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    latin = frozenset(range(0x250)) | {0x2019}
    monkeypatch.setattr(charts, "_drawable", lambda: latin)
    title = t("Image bot usage: {period}", period=t("today"))
    assert charts.chart_language("fr", title) == "fr"
    assert charts.chart_language("ja", title) == "en"  # boxes are no use to anyone
    everything = frozenset(range(0x110000))
    monkeypatch.setattr(charts, "_drawable", lambda: everything)
    assert charts.chart_language("ja", title) == "ja"
    png = charts.usage_chart([], [], title, "de")
    assert png.startswith(b"\x89PNG")
