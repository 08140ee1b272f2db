"""The Docker files as an admin relies on them, read with a YAML parser (no Docker needed;
.ci/run also runs `docker compose config` when it can): nothing published beyond this machine,
logs that rotate, a placeholder .env that stops instead of looping, PostgreSQL under a
profile, pinned images, and one SQLite path on the volume whatever .env says."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_settings

ROOT = Path(__file__).parent.parent


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def dockerfile(instruction: str) -> list[str]:
    """The arguments of every `instruction` line of the Dockerfile, in order."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        line.split(None, 1)[1].strip()
        for line in text.splitlines()
        if line.split(None, 1)[:1] == [instruction]
    ]


def image_env() -> dict[str, str]:
    [env] = dockerfile("ENV")
    return dict(re.findall(r"(\w+)=(\S+)", env))


def test_published_ports_stay_on_this_machine() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    assert "ports" not in compose()["services"]["postgres"]  # reached by name, inside


def test_every_service_rotates_its_logs() -> None:
    for name, service in compose()["services"].items():
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert set(logging.get("options", {})) >= {"max-size", "max-file"}, name


def test_a_placeholder_env_stops_before_the_bot_starts() -> None:
    """The one-shot `check` service validates the settings; the bot starts only once it has
    exited 0, so an unchanged .env ends `up` with its error instead of a restart loop."""
    services = compose()["services"]
    check, bot = services["check"], services["bot"]
    assert check["command"] == ["check", "--settings-only"]
    assert check["restart"] == "no"
    assert check["env_file"] == bot["env_file"] == ".env"
    assert bot["depends_on"]["check"] == {"condition": "service_completed_successfully"}
    assert bot["restart"] == "unless-stopped"  # real crashes and reboots still restart it


def test_the_bot_is_health_checked() -> None:
    [check] = dockerfile("HEALTHCHECK")
    assert check.endswith('CMD ["flux-bot", "health"]')
    services = compose()["services"]
    assert "healthcheck" not in services["bot"]  # the image's
    assert services["check"]["healthcheck"] == {"disable": True}  # exits within a second
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_postgres_is_a_profile_the_bot_waits_for_when_it_runs() -> None:
    services = compose()["services"]
    postgres = services["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert services["bot"]["depends_on"]["postgres"] == {
        "condition": "service_healthy",
        "required": False,
    }
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"
    assert "flux-postgres:/var/lib/postgresql/data" in postgres["volumes"]


def test_images_are_pinned_to_exact_versions() -> None:
    [base] = dockerfile("FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    for name, service in compose()["services"].items():
        if service["image"] != "flux-bot:local":  # ours, built from the pinned FROM
            assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+(\.\d+)?(-\w+)?", service["image"]), name


def _example_database_url() -> str:
    lines = (ROOT / ".env.example").read_text().splitlines()
    [url] = [line.split("=", 1)[1] for line in lines if line.startswith("DATABASE_URL=")]
    return url


@pytest.mark.parametrize("source", ["example", "empty", "absent"])
def test_sqlite_lands_on_the_volume_whatever_env_says(
    source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """.env.example's DATABASE_URL, an empty one (the default) and none at all (the image's
    ENV) all name /data/flux-bot.db from the image's working directory: the volume, not
    /data/data/flux-bot.db as 0.1's image made of the example's relative path."""
    monkeypatch.chdir(tmp_path)  # no .env of a developer's
    given = {"example": _example_database_url(), "empty": "", "absent": None}[source]
    # docker compose passes .env's value (even an empty one) over the image's ENV.
    monkeypatch.setenv("DATABASE_URL", image_env()["DATABASE_URL"] if given is None else given)
    path = load_settings().sqlite_path
    assert path is not None
    workdir = dockerfile("WORKDIR")[-1]
    assert posixpath.normpath(posixpath.join(workdir, path.as_posix())) == "/data/flux-bot.db"
    assert dockerfile("VOLUME") == ['["/data"]']
    built = [s for s in compose()["services"].values() if s.get("image") == "flux-bot:local"]
    assert len(built) == 2
    assert all("flux-data:/data" in service["volumes"] for service in built)


def test_the_image_has_a_font_for_japanese_charts() -> None:
    """The chart draws Japanese labels only with a CJK font that charts.FAMILIES names; the
    image installs one (Debian's package → the family fontconfig gives it)."""
    from bot.charts import FAMILIES

    packages = {"fonts-ipafont-gothic": "IPAGothic", "fonts-noto-cjk": "Noto Sans CJK JP"}
    installs = " ".join(run for run in dockerfile("RUN") if "apt-get install" in run).split()
    families = {family for package, family in packages.items() if package in installs}
    assert families & set(FAMILIES)
