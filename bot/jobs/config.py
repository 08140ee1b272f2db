"""The job loop's knobs, filled from the settings by `bot.services.driver_config`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.jobs import schedule


class DriverConfig(BaseModel):
    """Knobs of the driver, filled from the settings."""

    model_config = ConfigDict(frozen=True)

    max_in_flight: int = 8
    max_in_flight_per_member: int = 2
    poll_rate: float = 4.0  # polls per second across all jobs
    soft_timeout: float = 180.0
    hard_timeout: float = 600.0
    progress_interval: float = 2.5  # at most one progress edit per job this often
    token_margin: float = 60.0  # stop using an interaction token this long before it expires
    webhook_url: str | None = None
    lease_seconds: float = 120.0
    max_attempts: int = 8  # unexpected errors on one job before it is failed
    expected_seconds: float = schedule.DEFAULT_EXPECTED_SECONDS  # the prior until jobs are timed
    webhook_safety_seconds: float = schedule.WEBHOOK_SAFETY_DELAY
    late_check_seconds: float = 60.0  # how often a timed-out job is checked again
