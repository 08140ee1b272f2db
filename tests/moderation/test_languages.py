"""Refusals are messages in the member's language: English as it always read, German and
Japanese from the catalogs, with the moderators' `detail` left in English."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import i18n
from bot.i18n import Text
from bot.moderation.gate import (
    Limits,
    MemberUsage,
    Refusal,
    Request,
    check_policy,
    check_usage,
)
from bot.moderation.patterns import validate_pattern
from bot.moderation.policy import Check, GuildPolicy, Tier
from cogs.flux._gate import describe_refusal

NOW = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
EVERYONE = Tier(role_id=0)


def request(**overrides: object) -> Request:
    fields: dict[str, object] = {"guild_id": 1, "channel_id": 10, "user_id": 7}
    return Request.model_validate({"prompt": "a lighthouse", **fields, **overrides})


def refused(policy: GuildPolicy, **overrides: object) -> Refusal:
    refusal = check_policy(policy, request(**overrides), EVERYONE)
    assert refusal is not None
    return refusal


def used(**usage: int) -> Refusal:
    limits = Limits(per_day=usage.pop("per_day", None), jobs_per_member=usage.pop("jobs", None))
    refusal = check_usage(limits, MemberUsage(**usage), NOW)
    assert refusal is not None
    return refusal


def test_english_reads_as_it_did_before_the_catalogs() -> None:
    assert str(used(per_day=1, today=1).reason) == "You've used your one image for today."
    assert str(used(per_day=2, today=2).reason) == "You've used all 2 of your images for today."
    assert str(used(jobs=1, in_flight=1).reason) == (
        "You already have 1 image on the way (the limit here is 1); please wait for one to finish."
    )
    channels = refused(GuildPolicy(allowed_channels=tuple(range(11, 18))))
    assert str(channels.reason) == (
        "Image generation isn't enabled in this channel."
        " Try <#11>, <#12>, <#13>, <#14>, <#15> and 2 more."
    )
    banned = refused(GuildPolicy(banned={7: ""}))
    assert (
        str(banned.reason) == "You can't generate images on this server (reason: no reason given)."
    )


def test_a_refusal_in_german() -> None:
    banned = refused(GuildPolicy(banned={7: "spam"}))
    assert banned.reason.render("de") == (
        "Du kannst auf diesem Server keine Bilder erzeugen (Grund: spam)."
    )
    busy = used(jobs=2, in_flight=2)
    assert busy.reason.render("de") == (
        "Du hast schon 2 Bilder in Arbeit (das Limit hier ist 2);"
        " bitte warte, bis eines fertig ist."
    )
    channels = refused(GuildPolicy(allowed_channels=tuple(range(11, 17))))
    assert channels.reason.render("de").endswith("<#15> und 1 weitere.")
    size = refused(GuildPolicy(max_resolution="1MP"), resolution="4MP")
    assert "ist 1 MP; bitte wähle eine kleinere." in size.reason.render("de")
    assert size.detail == "resolution 4MP over 1MP"  # the audit log's, in English
    # The option to leave out, by the name Discord shows the member.
    upsampled = refused(GuildPolicy(upsampling_allowed=False), upsample=True)
    assert upsampled.reason.render("de").endswith("ohne `prompt-erweiterung`.")
    assert str(upsampled.reason).endswith("try again without `upsample`.")


def test_a_refusal_in_japanese_with_when_to_try_again() -> None:
    daily = used(per_day=3, today=3)
    assert daily.reason.render("ja") == "今日の画像 3 枚をすべて使い切りました。"
    message = describe_refusal(daily, "ja")
    assert message.startswith("今日の画像 3 枚をすべて使い切りました。<t:")
    assert message.endswith(":R>にもう一度お試しいただけます。")
    assert describe_refusal(daily).endswith(":R>.")  # English, as before
    assert describe_refusal(daily, "en-US").startswith("You've used all 3 of your images")
    prompt = refused(GuildPolicy(blocked_words=("kraken",)), prompt="a KR4KEN")
    assert prompt.reason.render("ja").startswith("プロンプトは拒否されました。")
    assert prompt.detail == "blocked word"


def test_a_moderators_pattern_problem_in_german_with_its_numbers() -> None:
    too_long = validate_pattern("x" * 201)
    assert too_long is not None
    assert too_long.render("de") == "es ist 201 Zeichen lang; das Limit ist 200"
    bomb = validate_pattern("(?:a{2000}){2000}")
    assert bomb is not None
    assert bomb.render("de").endswith("({n}) ergeben multipliziert mehr als 1.000")
    unclosed = validate_pattern("(clown")
    assert unclosed is not None
    assert unclosed.render("fr").startswith("il ne compile pas : ")


def _every_refusal() -> list[Refusal]:
    policy = GuildPolicy()
    refusals = [
        refused(GuildPolicy(banned={7: "spam"})),
        refused(GuildPolicy(allowed_channels=(11,))),
        refused(GuildPolicy(allowed_roles=(5,))),
        refused(GuildPolicy(blocked_words=("kraken",)), prompt="a kraken"),
        refused(GuildPolicy(blocked_patterns=(r"\bkraken\b",)), prompt="a kraken"),
        refused(policy, prompt="a nude figure study"),
        refused(GuildPolicy(adult_allowed=True), prompt="a nude figure study"),
        refused(GuildPolicy(disabled_kinds=("upscale",)), kind="upscale"),
        refused(GuildPolicy(disabled_kinds=("outpaint",)), kind="outpaint"),
        refused(GuildPolicy(references_allowed=False), has_reference=True),
        refused(GuildPolicy(upsampling_allowed=False), upsample=True),
        refused(GuildPolicy(max_resolution="1MP"), resolution="2MP"),
        used(per_day=1, today=1),
        used(per_day=4, today=4),
        used(jobs=1, in_flight=1),
    ]
    usage = MemberUsage(last_started_at=NOW, this_month=5, guild_credits=10)
    for limits in (
        Limits(cooldown_seconds=60),
        Limits(per_month=1),
        Limits(per_month=5),
        Limits(monthly_budget=10, estimate=7),
    ):
        refusal = check_usage(limits, usage, NOW)
        assert refusal is not None
        refusals.append(refusal)
    assert {r.check for r in refusals} == set(Check)
    return refusals


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != i18n.ENGLISH])
def test_every_refusal_is_translated(lang: str) -> None:
    for refusal in _every_refusal():
        assert isinstance(refusal.reason, Text)
        english = refusal.reason.render("en")
        assert refusal.reason.render(lang) != english, (lang, english)
