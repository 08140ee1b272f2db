"""The Grafana dashboard under deploy/ asks only for what the bot exports, and covers what an
admin watches; the compose profile provisions it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.metrics import Metrics

ROOT = Path(__file__).parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "flux-bot.json"
# PromQL words that are neither metrics nor followed by "(" once grouping clauses are gone.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
KEYWORDS |= {"and", "or", "unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers left once strings, label
    matchers, range selectors and grouping clauses are taken out, less function calls."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = re.findall(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr)
    return {name for name in found if name.lower() not in KEYWORDS}


def queries() -> list[tuple[str, str]]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def test_the_parser_finds_metric_names() -> None:
    """The name regex sees through functions, grouping, matchers and ranges, and no further."""
    expr = (
        'histogram_quantile(0.95, sum by (le, kind) (rate(flux_x_bucket{le="0.25", a=~"b|c"}'
        "[$__rate_interval]))) / on (instance) group_left sum(up) * 3600 + max(foo:bar) by (x)"
    )
    assert metric_names(expr) == {"flux_x_bucket", "up", "foo:bar"}


@pytest.mark.parametrize(("title", "expr"), queries())
def test_every_query_names_a_metric_the_bot_exports(title: str, expr: str) -> None:
    """Each panel query reads at least one metric, and only ones in the bot's registry
    (`_total`, `_bucket`, `_count` and `_sum` included)."""
    exported = Metrics().family_names()
    names = metric_names(expr)
    assert names, f"{title}: no metric in {expr}"
    assert names <= exported, f"{title}: {sorted(names - exported)} not exported"


def test_the_dashboard_shows_what_an_admin_watches() -> None:
    """Images per hour, p95 time to image, failures by cause, credits per day and the queue
    each have a panel, and every panel uses the dashboard's data source variable."""
    board = json.loads(DASHBOARD.read_text())
    exprs = {
        panel["title"]: " ".join(t["expr"] for t in panel["targets"]) for panel in board["panels"]
    }
    assert "flux_jobs_finished_total" in exprs["Images per hour"]
    assert "histogram_quantile(0.95" in exprs["Time to image"]
    assert "by (cause)" in exprs["Failures by cause"]
    assert "flux_credits_spent_total[1d]" in exprs["Credits per day"]
    assert "flux_queue_length" in exprs["Queue"]
    assert {p["datasource"]["uid"] for p in board["panels"]} == {"${datasource}"}
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_the_monitoring_profile_provisions_prometheus_and_grafana() -> None:
    """`--profile monitoring` adds Prometheus (scraping the bot service) and Grafana (with the
    data source and the dashboard's folder provisioned), on this machine only."""
    compose = (ROOT / "docker-compose.yml").read_text()
    assert compose.count('profiles: ["monitoring"]') == 2
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in compose
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in compose
    assert not re.search(r'- "(?:0\.0\.0\.0:)?(?:9090|3000):', compose)  # 127.0.0.1 only
    scrape = (ROOT / "deploy" / "prometheus.yml").read_text()
    assert re.search(r'targets: \["bot:8080"\]', scrape)
    assert "job_name: flux-bot" in scrape  # the dashboard's memory panel selects job="flux-bot"
    provider = (ROOT / "deploy/grafana/provisioning/dashboards/flux-bot.yml").read_text()
    assert "path: /etc/grafana/dashboards" in provider
    source = (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "url: http://prometheus:9090" in source
