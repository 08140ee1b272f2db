"""A local stand-in for Apiframe's v2 image API, faithful to its published contract.

Every test talks to it, and admins can run it (`flux-bot sandbox`) to try the bot for free.
It validates like the real schema (unknown keys rejected), answers with the real error shapes,
runs a clock-driven job state machine, renders real images with Pillow, signs webhooks like
Apiframe, replays idempotent submissions, and injects faults on demand. The `/_sandbox/*`
control routes have no authentication: never expose this server beyond your machine.

Control from tests: `app[SANDBOX_KEY]` (a `Sandbox`): `advance(seconds)`, `add_fault(Fault)`,
`add_outcome(Outcome)`, `webhook_faults = WebhookFaults(...)`, `config.<field> = ...`,
`settle_all()` (stats), `requests`, `reset()`. Over HTTP: POST /_sandbox/faults, /outcomes,
/webhooks, /advance {"seconds"}, /reset; PATCH /_sandbox/config; GET /_sandbox/stats, /requests.

Modules: `config` (knobs and scripted faults), `validation` (the request schema), `images`
(cost and pictures), `state` (jobs and their lifecycle), `routes` (the API), `control`
(`/_sandbox/*`), `server` (the app and `serve`). Import from this package, not the modules.
"""

from bot.apiframe.sandbox.config import (
    MODERATION_ERROR,
    Fault,
    Outcome,
    SandboxConfig,
    WebhookFaults,
)
from bot.apiframe.sandbox.control import (
    control_advance,
    control_config,
    control_faults,
    control_outcomes,
    control_requests,
    control_reset,
    control_stats,
    control_webhooks,
)
from bot.apiframe.sandbox.images import credit_cost, dimensions, render
from bot.apiframe.sandbox.routes import cdn, generate, get_job, me
from bot.apiframe.sandbox.server import create_app, serve
from bot.apiframe.sandbox.state import SANDBOX_KEY, Sandbox, SandboxJob
from bot.apiframe.sandbox.validation import (
    CONTENT_TYPES,
    EVENTS,
    FLUX_KEYS,
    MODELS,
    RESOLUTIONS,
    TOP_KEYS,
    validate_body,
)

__all__ = [
    "CONTENT_TYPES",
    "EVENTS",
    "FLUX_KEYS",
    "MODELS",
    "MODERATION_ERROR",
    "RESOLUTIONS",
    "SANDBOX_KEY",
    "TOP_KEYS",
    "Fault",
    "Outcome",
    "Sandbox",
    "SandboxConfig",
    "SandboxJob",
    "WebhookFaults",
    "cdn",
    "control_advance",
    "control_config",
    "control_faults",
    "control_outcomes",
    "control_requests",
    "control_reset",
    "control_stats",
    "control_webhooks",
    "create_app",
    "credit_cost",
    "dimensions",
    "generate",
    "get_job",
    "me",
    "render",
    "serve",
    "validate_body",
]
