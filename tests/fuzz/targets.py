"""The entry points under fuzzing: for each, what it is given and the outcome it documents.

Each `Target` calls one entry point with a drawn input and asserts the documented outcome: a
value of the right shape, or the module's own error type (listed in `expected`). Anything else
escaping is a bug in the code. The property tests (tests/fuzz/test_entry_points.py) and the
long run (bench/bench_fuzz.py) share these.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from bot import i18n, images
from bot.apiframe import errors, webhooks
from bot.apiframe.client import error_from_response, parse_retry_after
from bot.apiframe.models import (
    ASPECT_RATIOS,
    OUTPUT_FORMATS,
    RESOLUTIONS,
    GenerateRequest,
    Job,
    JobAccepted,
    JobStatus,
    Submission,
)
from bot.config import Settings, SettingsError, load_settings
from bot.downloads import DownloadPolicy
from bot.i18n import Text
from bot.jobs import actions, cost, describe
from bot.jobs.options import Attached, options_problem
from bot.jobs.request import Generate, JobRequest, generate, load_request, to_apiframe
from bot.jobs.webhook import read_event, webhook_url
from bot.moderation import gate
from bot.moderation.patterns import pattern_hit, repeat_size, validate_pattern
from bot.moderation.policy import GuildPolicy, Tier
from bot.moderation.prompts import RuleClass, check_prompt, find_term, normalize
from bot.services import download_policy
from bot.storage.db import describe_url
from bot.storage.guilds import policy_from_stored


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy[Any]
    call: Callable[[Any], None]  # calls the entry point and asserts what it returned
    expected: tuple[type[BaseException], ...] = ()  # the documented errors


# --- shared strategies ------------------------------------------------------------------------

# Text the way members and moderators type it, and the way attackers do: every plane, the
# invisible and combining characters, and the words the rules look for.
_TRICKY = "ㅤﾠᅟᅠ⠀\u200b\u00ad\u200d\u0301ɴᴀᴋᴇᴅ١٣٤𝟏𝟑@$!013457 .-_|/\\"
_WORDS = ["naked", "nude", "teen", "13yo", "sex", "celebrity", "kid", "n a k e d", "n4k3d"]
# Lone surrogates too: JSON (and so Discord's payloads) can carry them.
_ANY_CHAR = st.characters() | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=_ANY_CHAR, max_size=60),
    # Prompts of the full length, made by repeating a short piece: drawing 2000 characters one
    # by one would make the generator, not the code, what the test spends its time on.
    st.text(
        alphabet=st.sampled_from(list(_TRICKY) + list("nakedtex ")), min_size=1, max_size=50
    ).map(lambda piece: (piece * (2100 // len(piece) + 1))[: 1500 + len(piece) * 11]),
    st.text(alphabet=st.sampled_from(list(_TRICKY) + list("abcdekn")), max_size=120),
    st.lists(st.sampled_from(_WORDS) | st.text(max_size=8), max_size=30).map(" ".join),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=15,
)
# Cheap odd values for a field: the wrong type, out of range, empty.
odd = st.sampled_from([None, -1, 0, 2**70, 1.5, float("inf"), float("nan"), "", "x", [], {}, True])
urls = st.one_of(
    st.sampled_from(["https://cdn.example.com/a.png", "http://127.0.0.1:8080/x", "ftp://x/y"]),
    st.builds(
        lambda h, p: f"https://{h}/{p}", st.text(min_size=1, max_size=20), st.text(max_size=20)
    ),
    st.text(max_size=60),
)
numbers = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=12), st.booleans())


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` four times in five: inputs odd in one place reach deeper than all-odd ones."""
    return st.integers(0, 4).flatmap(lambda i: odd if i == 0 else valid)


def optional_keys(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=fields)


# --- requests ---------------------------------------------------------------------------------

_ASKED = {
    "resolution": mostly(st.sampled_from(RESOLUTIONS), st.text(max_size=6)),
    "aspect_ratio": mostly(st.sampled_from(ASPECT_RATIOS), st.sampled_from(["0:1", "-1:2", ""])),
    "references": st.lists(mostly(st.just("https://cdn.example.com/a.png"), urls), max_size=10),
    "strength": mostly(st.floats(0, 1), st.floats() | st.integers()),
    "output_format": mostly(st.sampled_from(OUTPUT_FORMATS), st.text(max_size=5)),
    "quality": mostly(st.integers(0, 100), st.integers(-(2**70), 2**70)),
    "upsample": mostly(st.booleans(), numbers),
    "seed": mostly(st.integers(0, 2**53 - 1), st.integers(-(2**70), 2**70)),
    "origin": maybe(urls),
}


def _wire(prompt: str, request: JobRequest, hook: str | None) -> None:
    try:
        body = to_apiframe(prompt, request, webhook_url=hook)
    except ValidationError:
        return  # refused as a wire body (a prompt or URL Apiframe would not take)
    assert isinstance(body, Submission)
    json.dumps(body.to_wire())


def _generate(case: tuple[str, dict[str, Any], str | None]) -> None:
    prompt, asked, hook = case
    request = generate(default_resolution="1MP", **asked)
    assert isinstance(request, Generate)
    assert request.strength is None or 0 <= request.strength <= 1
    _wire(prompt, request, hook)


def _built(prompt: str, request: JobRequest) -> None:
    """What is done with a request once made: its wire body, its estimate, its description,
    its buttons; and stored, it reads back the same."""
    _wire(prompt, request, None)
    assert cost.estimate(request, cost.Prices()) >= 0
    facts = describe.facts(request)
    assert all(isinstance(i18n.render(v, "de"), str) for pair in facts for v in pair)
    assert isinstance(describe.summary(request, "ja"), str)
    assert isinstance(actions.shown_actions(request, getattr(request, "size", None)), list)
    assert load_request(request.model_dump(mode="json")) == request


def _load_request(case: tuple[str, Any]) -> None:
    prompt, data = case
    _built(prompt, load_request(data))


def _derive(case: tuple[Any, str, str, Any]) -> None:
    data, action, image, size = case
    try:
        parent = load_request(data)
    except ValidationError:
        parent = generate(default_resolution="1MP")
    derived = {*actions.UPSCALES, *actions.OUTPAINTS, *actions.VARIES, "reroll"}
    known = actions.RENAMED.get(action, action) in derived
    try:
        request = actions.derive(
            action, parent, image=image, size=size, origin=None, default_resolution="2MP"
        )
    except ValueError as exc:  # documented for an unknown action only
        if known or "unknown action" not in str(exc):
            raise
        return
    except actions.Refused as refused:
        assert str(refused)  # noqa: PT017 - the refusal is a message for the member
        return
    _built("a prompt", request)


_SIDES = st.integers(-5, 10**5) | st.integers() | st.sampled_from([0, 10**200, -(10**200)])
sizes = maybe(st.tuples(_SIDES, _SIDES))


_STORED_REQUEST = st.one_of(
    json_values,
    st.builds(
        lambda kind, rest: {"kind": kind, **rest},
        st.sampled_from(["generate", "upscale", "outpaint", "other"]),
        optional_keys(
            {
                **_ASKED,
                "image": urls,
                "size": sizes | json_values,
                "mode": st.sampled_from(["subtle", "creative", "x"]),
                "factor": st.sampled_from([2, 4, 3, "2"]),
                "preset": st.sampled_from(["Zoom out 2x", "Make square", "nope"]),
            }
        ),
    ),
)

# --- moderation -------------------------------------------------------------------------------

_PATTERN_CHARS = [*list("()[]{}*+?|\\^$.,:<>=!-PpLw0123456789aAbz"), "{2000}", "(?:", "\\p{"]
short_patterns = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(_PATTERN_CHARS), max_size=30).map("".join),
)
patterns = st.one_of(
    short_patterns,
    # Counts of any length: a stored pattern was never held to today's length limit.
    st.builds(
        lambda n, d: "a{" + "9" * n + d + "}",
        st.integers(1, 6000),
        st.sampled_from(["", ",", ",1"]),
    ),
    st.lists(st.sampled_from(_PATTERN_CHARS), min_size=5, max_size=30).map(
        lambda parts: "".join(parts * (150 // len(parts) + 1))[:400]
    ),
)


def _normalize(value: str) -> None:
    assert isinstance(normalize(value), str)


def _find_term(case: tuple[str, list[str]]) -> None:
    value, terms = case
    found = find_term(value, terms)
    assert found is None or found in terms


def _check_prompt(case: tuple[str, list[str], list[str], list[str], bool]) -> None:
    prompt, words, blocked, adult, allowed = case
    result = check_prompt(
        prompt,
        blocked_words=words,
        blocked_patterns=blocked,
        adult_terms=adult,
        adult_allowed=allowed,
        pattern_timeout=0.005,  # a slow pattern fails closed: no need to wait long for it
    )
    assert result is None or isinstance(result, RuleClass)


def _validate_pattern(case: tuple[str, str]) -> None:
    pattern, sample = case
    assert repeat_size(pattern) >= 1
    reason = validate_pattern(pattern)
    assert reason is None or (isinstance(reason, Text) and str(reason))
    if reason is None:  # a stored pattern then runs against every prompt
        assert isinstance(pattern_hit([pattern], [sample, normalize(sample)], 0.005), bool)


ids = st.integers(min_value=0, max_value=2**64)
_POLICY_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "allowed_channels": mostly(st.lists(ids, max_size=4), odd),
    "threads_inherit": mostly(st.booleans(), odd),
    "allowed_roles": mostly(st.lists(ids, max_size=4), odd),
    "banned": mostly(
        st.dictionaries(ids.map(str), st.text(max_size=20), max_size=3),
        odd | st.dictionaries(st.text(max_size=5), odd, max_size=2),
    ),
    "per_day": mostly(maybe(st.integers(0, 10**12)), odd),
    "per_month": mostly(maybe(st.integers(0, 10**12)), odd),
    "tiers": mostly(
        st.lists(
            st.fixed_dictionaries(
                {"role_id": ids},
                optional={
                    "per_day": maybe(st.integers(-1, 100)),
                    "per_month": maybe(st.integers(-1, 100)),
                    "max_resolution": maybe(st.sampled_from(RESOLUTIONS)),
                },
            ),
            max_size=3,
        ),
        odd | st.lists(st.dictionaries(st.sampled_from(["role_id", "per_day"]), odd), max_size=2),
    ),
    "cooldown_seconds": mostly(st.integers(0, 10**12), odd),
    "jobs_per_member": mostly(st.integers(1, 10**6), odd),
    "max_resolution": mostly(st.sampled_from(RESOLUTIONS), odd),
    "disabled_kinds": st.lists(st.sampled_from(["upscale", "outpaint", "x"]), max_size=3),
    "monthly_budget": mostly(maybe(st.integers(0, 10**12)), odd),
    "budget_warn_percent": mostly(st.integers(1, 100), odd),
    "blocked_words": mostly(st.lists(text, max_size=5), odd),
    "blocked_patterns": st.lists(short_patterns, max_size=2),  # stored: never validated
    "adult_allowed": st.booleans(),
    "adult_terms": st.lists(text, max_size=5),
    "audit_channel_id": mostly(maybe(ids), odd),
    "max_in_flight": st.integers(-2, 60),  # its earlier name
    "unknown_key": json_values,
}
stored_policies = st.one_of(
    optional_keys(_POLICY_FIELDS), st.dictionaries(st.text(max_size=8), json_values, max_size=4)
)
DEFAULT_POLICY = GuildPolicy()


def _stored_policy(stored: dict[str, Any]) -> None:
    policy = policy_from_stored(DEFAULT_POLICY, stored)
    assert isinstance(policy, GuildPolicy)
    assert policy == GuildPolicy.model_validate(policy.model_dump(mode="json"))


def _policy_or_default(stored: dict[str, Any]) -> GuildPolicy:
    try:
        return policy_from_stored(DEFAULT_POLICY, stored)
    except ValidationError:
        return DEFAULT_POLICY


gate_requests = st.builds(
    gate.Request,
    guild_id=maybe(ids),
    channel_id=ids,
    parent_id=maybe(ids),
    channel_nsfw=st.booleans(),
    user_id=ids,
    role_ids=st.frozensets(ids, max_size=4),
    prompt=text,
    kind=st.sampled_from(["generate", "upscale", "outpaint", "x"]),
    resolution=maybe(st.sampled_from(RESOLUTIONS)),
    has_reference=st.booleans(),
    upsample=st.booleans(),
)


def _check_policy(case: tuple[dict[str, Any], gate.Request]) -> None:
    stored, request = case
    policy = _policy_or_default(stored)
    tier = policy.tier_for(request.role_ids)
    assert isinstance(tier, Tier)
    refusal = gate.check_policy(policy, request, tier)
    assert refusal is None or str(refusal.reason)


zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
moments = st.datetimes(timezones=zones) | st.sampled_from(
    [datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)]
)
# The clock of a running bot: not the first or last days the datetime type can hold.
clocks = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(9000, 1, 1),  # noqa: DTZ001
    timezones=zones,
)
counts = st.integers(min_value=0, max_value=10**12)


def _check_usage(case: tuple[gate.Limits, gate.MemberUsage, datetime]) -> None:
    limits, usage, now = case
    refusal = gate.check_usage(limits, usage, now)
    assert refusal is None or str(refusal.reason)
    assert refusal is None or refusal.retry_at is None or refusal.retry_at > now


usage_cases = st.tuples(
    st.builds(
        gate.Limits,
        per_day=maybe(counts),
        per_month=maybe(counts),
        cooldown_seconds=st.integers(min_value=0, max_value=10**9),
        jobs_per_member=maybe(counts),
        monthly_budget=maybe(counts),
        estimate=counts,
    ),
    st.builds(
        gate.MemberUsage,
        today=counts,
        this_month=counts,
        in_flight=counts,
        last_started_at=maybe(moments),
        guild_credits=counts,
    ),
    clocks,
)

# --- references and images --------------------------------------------------------------------


def _sample(fmt: str, size: tuple[int, int], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 64).convert(mode).save(buffer, fmt)
    return buffer.getvalue()


SAMPLES = [
    _sample("PNG", (80, 72)),
    _sample("PNG", (70, 90), "P"),
    _sample("PNG", (64, 64), "LA"),
    _sample("PNG", (66, 66), "I;16"),
    _sample("JPEG", (96, 80)),
    _sample("JPEG", (72, 72), "CMYK"),
    _sample("WEBP", (80, 80), "RGBA"),
    _sample("GIF", (90, 70), "L"),
    _sample("TIFF", (80, 80)),
    _sample("BMP", (80, 80)),
]


@st.composite
def image_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, and real images cut short or with bytes changed."""
    kind = draw(st.sampled_from(["random", "cut", "corrupt", "body", "intact"]))
    if kind == "random":
        return draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    if kind == "cut":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind in ("corrupt", "body"):  # "body": the header intact, so decoding starts
        first = 0 if kind == "corrupt" else min(64, len(data) - 1)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(first, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _fit(case: tuple[bytes, int]) -> None:
    data, limit = case
    try:
        fitted = images.fit(data, limit)
    except images.ImageProblem as problem:
        assert str(problem)  # noqa: PT017 - the problem is a message for the member
        return
    assert len(fitted.data) <= limit
    assert fitted.info.format in images.CONTENT_TYPES


def _check_reference(data: bytes) -> None:
    info = images.check_reference(data)
    assert info.format in images.CONTENT_TYPES
    assert min(info.width, info.height) >= images.REFERENCE_MIN_SIDE


attachments = st.builds(
    Attached,
    filename=st.text(max_size=30),
    content_type=maybe(
        st.sampled_from(["image/png", "application/pdf", ""]) | st.text(max_size=20)
    ),
    size=st.integers(min_value=0, max_value=2**40),
)


def _options(case: tuple[str, list[Attached], float | None]) -> None:
    prompt, attached, strength = case
    problem = options_problem(prompt, attached, strength)
    assert problem is None or problem


# --- settings ---------------------------------------------------------------------------------

_ODD_URLS = [
    "ws://example.com",
    "http://example.com/db",
    "postgresq://u:p@h/d",
    "postgresql://u:p@h:notaport/d",
    "postgresql://u:p@[::1/d",
    "sqlite:///:memory:",
    "sqlite:////tmp/x.db",
    "sqlite+pysqlite:///x.db",
    "mysql://u@h/d",
    "",
    "://",
    "http://[::1",
    "https://[zz]:80",
    "http://host:99999",
    "https://exa mple.com",
]
_HOSTS = st.sampled_from(
    ["example.com", "127.0.0.1", "[::1]", "[::1", "[zz]", "[fe80::1%eth0]", "localhost", "h h", ""]
) | st.text(max_size=12)
_PORTS = st.sampled_from(["", ":8080", ":0", ":99999", ":x", ":", ":-1"]) | st.integers().map(
    lambda n: f":{n}"
)
_SCHEMES = st.sampled_from(["http", "https", "ws", "wss", "ftp", "HTTP", "postgresql", "sqlite"])
built_urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    _SCHEMES,
    _HOSTS,
    _PORTS,
    st.sampled_from(["", "/", "/api/v10", "/a b", "?q=1", "#x"]),
)
setting_values = st.one_of(
    st.sampled_from(_ODD_URLS), built_urls, st.text(max_size=30), numbers.map(str)
)
_NUMBERS = numbers.map(str) | st.sampled_from(["inf", "nan", "-0", "1e999", "1_000", " 5 "])
_SETTINGS: dict[str, st.SearchStrategy[str]] = {
    "database_url": st.sampled_from(_ODD_URLS) | built_urls | st.text(max_size=30),
    "apiframe_base_url": built_urls | setting_values,
    "discord_api_base_url": built_urls | setting_values,
    "discord_gateway_url": built_urls | setting_values,
    "webhook_public_url": built_urls | setting_values,
    "web_port": _NUMBERS,
    "web_host": _HOSTS,
    "discord_guild_ids": st.lists(_NUMBERS, max_size=3).map(",".join),
    "shard_count": _NUMBERS,
    "shard_id": _NUMBERS,
    "log_level": st.sampled_from(["debug", "INFO", "x", ""]),
    "poll_rate": _NUMBERS,
    "job_soft_timeout": _NUMBERS,
    "job_hard_timeout": _NUMBERS,
    "apiframe_timeout": _NUMBERS,
    "default_daily_limit": _NUMBERS,
    "default_resolution": st.sampled_from(["1MP", "3MP", ""]),
    "download_allow_networks": st.lists(
        st.sampled_from(["10.0.0.0/8", "::1", "1.2.3.4/8", "x", "300.1.1.1", "fe80::/10", ""])
        | st.text(max_size=8),
        max_size=3,
    ).map(",".join),
    "max_jobs_per_user": _NUMBERS,
}
setting_overrides = st.lists(st.sampled_from(sorted(_SETTINGS)), max_size=2, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: _SETTINGS[k] for k in keys})
)


def _settings(overrides: dict[str, str]) -> None:
    settings = load_settings(_env_file=None, **overrides)
    assert isinstance(settings, Settings)
    # What start-up does with them next: warnings, the SQLite path, the log line naming the
    # database, the download policy.
    assert all(isinstance(line, str) for line in settings.warnings)
    settings.sqlite_path  # noqa: B018
    assert isinstance(describe_url(settings.database_url), str)
    assert isinstance(download_policy(settings), DownloadPolicy)
    if settings.webhook_public_url:  # every job's body carries the webhook URL
        hook = webhook_url(settings.webhook_public_url, "afk_key")
        assert GenerateRequest(prompt="x", webhook_url=hook).to_wire()["webhookUrl"]


# --- jobs and webhooks ------------------------------------------------------------------------

_STATUSES = [s.value for s in JobStatus] + ["queued", "WEIRD", ""]
_JOB_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "progress": st.sampled_from(["1e999", "²", "٣", "9" * 5000, " 42 ", "-3", "1.5", "+7"])
    | numbers
    | json_values,
    "result": json_values | urls,
    "error": maybe(st.text(max_size=30)) | json_values,
    "creditCost": numbers | json_values,
    "createdAt": maybe(st.text(max_size=30)) | st.datetimes().map(str) | numbers,
    "completedAt": numbers,
    "expired": st.booleans() | json_values,
    "event": st.text(max_size=10) | json_values,
}
_JOB_ID = st.text(min_size=1, max_size=36)
jobs = st.one_of(
    st.builds(
        lambda key, job_id, status, rest: {key: job_id, "status": status, **rest},
        st.sampled_from(["id", "jobId"]),
        _JOB_ID,
        st.sampled_from(_STATUSES),
        optional_keys(_JOB_FIELDS),
    ),
    json_values,
)


def _job(data: Any) -> None:
    job = Job.model_validate(data)
    assert isinstance(job.status, JobStatus)
    assert job.id
    assert job.progress is None or 0 <= job.progress <= 100
    assert all(isinstance(url, str) and url for url in job.image_urls)


lenient_jobs = st.builds(
    lambda key, job_id, status, rest: {key: job_id, "status": status, **rest},
    st.sampled_from(["id", "jobId"]),
    _JOB_ID,
    st.sampled_from(_STATUSES),
    optional_keys(
        {k: _JOB_FIELDS[k] for k in ("progress", "result", "event")} | {"x": json_values}
    ),
)


def _lenient_job(data: dict[str, Any]) -> None:
    """A job with an id and a status reads, whatever its progress, result or unknown fields
    say (the response models are lenient by design)."""
    job = Job.model_validate(data)
    assert job.progress is None or 0 <= job.progress <= 100
    assert all(isinstance(url, str) and url for url in job.image_urls)


def _accepted(data: Any) -> None:
    assert JobAccepted.model_validate(data).job_id


def _nested(depth: int, url: str) -> Any:
    value: Any = url
    for _ in range(depth):
        value = [value] if depth % 2 else {"images": value}
    return value


webhook_bodies = st.one_of(
    jobs.map(lambda d: json.dumps(d, allow_nan=True).encode()),
    st.binary(max_size=200),
    st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(0, 3000).map(
        lambda n: (
            b'{"id": "j", "status": "COMPLETED", "result": '
            + b"[" * n
            + b'"https://cdn.example.com/a.png"'
            + b"]" * n
            + b"}"
        )
    ),
    st.builds(
        lambda n, url: json.dumps(
            {"id": "j", "status": "COMPLETED", "result": _nested(n, url)}
        ).encode(),
        st.integers(0, 1000),
        urls,
    ),
)


def _webhook(case: tuple[bytes, str | None]) -> None:
    body, signature = case
    key = "afk_fuzz"
    assert webhooks.verify(body, webhooks.sign(body, key), key)
    assert isinstance(webhooks.verify(body, signature, key), bool)
    job, event = read_event(body)
    assert isinstance(job, Job)
    assert isinstance(event, str)
    # The driver reads the URLs later, from deeper in the stack than the parser ran.
    assert all(isinstance(url, str) for url in _deeper(300, lambda: job.image_urls))


def _deeper(frames: int, call: Callable[[], Any]) -> Any:
    return call() if frames <= 0 else _deeper(frames - 1, call)


def _answer(case: tuple[int, Any, dict[str, str]]) -> None:
    status, body, headers = case
    error = error_from_response(status, body, headers)
    assert isinstance(error, errors.ApiframeError)
    assert error.message
    retry = parse_retry_after(headers.get("Retry-After"))
    assert retry is None or (retry >= 0 and not math.isnan(retry))


answers = st.tuples(
    st.integers(100, 599),
    json_values,
    st.dictionaries(
        st.sampled_from(["Retry-After", "x-request-id"]),
        st.text(max_size=40)
        | st.sampled_from(["1e999", "nan", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    ),
)

TARGETS = [
    Target(
        "request.generate",
        st.tuples(text, optional_keys(_ASKED), maybe(urls)),
        _generate,
        (ValidationError,),
    ),
    Target(
        "request.load_request", st.tuples(text, _STORED_REQUEST), _load_request, (ValidationError,)
    ),
    Target(
        "actions.derive",
        st.tuples(
            _STORED_REQUEST,
            st.sampled_from([*actions.ACTIONS, *actions.RENAMED, "nope"]),
            urls,
            sizes,
        ),
        _derive,
        (ValidationError,),
    ),
    Target(
        "options.options_problem",
        st.tuples(text, st.lists(attachments, max_size=5), maybe(st.floats())),
        _options,
    ),
    Target("prompts.normalize", text, _normalize),
    Target("prompts.find_term", st.tuples(text, st.lists(text, max_size=6)), _find_term),
    Target(
        "prompts.check_prompt",
        st.tuples(
            text,
            st.lists(text, max_size=4),
            st.lists(patterns, max_size=3),
            st.lists(text, max_size=4),
            st.booleans(),
        ),
        _check_prompt,
    ),
    Target("patterns.validate_pattern", st.tuples(patterns, text), _validate_pattern),
    Target("gate.check_policy", st.tuples(stored_policies, gate_requests), _check_policy),
    Target("gate.check_usage", usage_cases, _check_usage),
    Target("policy.policy_from_stored", stored_policies, _stored_policy, (ValidationError,)),
    Target("images.check_reference", image_bytes(), _check_reference, (images.ImageProblem,)),
    Target("images.fit", st.tuples(image_bytes(), st.integers(1, 40_000)), _fit),
    Target("config.load_settings", setting_overrides, _settings, (SettingsError,)),
    Target("models.Job", jobs, _job, (ValidationError,)),
    Target("models.Job (lenient fields)", lenient_jobs, _lenient_job),
    Target("models.JobAccepted", jobs, _accepted, (ValidationError,)),
    Target(
        "webhook.read_event",
        st.tuples(webhook_bodies, maybe(st.text(max_size=80))),
        _webhook,
        (ValueError,),
    ),
    Target("client.error_from_response", answers, _answer),
]
BY_NAME = {target.name: target for target in TARGETS}
