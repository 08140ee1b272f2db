"""A local stand-in for Apiframe's v2 image API, faithful to its published contract.

Every test talks to it, and admins can run it (`flux-bot sandbox`) to try the bot for free.
Routes: POST /v2/images/generate, /v2/images/upscale (Topaz, Clarity) and /v2/images/edit
(Flux Fill: outpaint, inpaint), GET /v2/jobs/{id}, /v2/me, /v2/models (public) and the CDN.
It validates like the real schema (unknown keys rejected; upscale and edit against Apiframe's
own schemas, bundled in `schemas/`), answers with the real error shapes, fetches every input
image at submission (a generation's references, an upscale's or edit's input: one it cannot
use is a 400), takes credits at submission and refunds failures, runs a clock-driven job
state machine, renders real images with Pillow (a generation's show its references'
thumbnails in a corner), signs webhooks like Apiframe, replays idempotent submissions, and
injects faults on demand. The `/_sandbox/*` control routes have no authentication: never
expose this server beyond your machine.

Control from tests: `app[SANDBOX_KEY]` (a `Sandbox`): `advance(seconds)`, `add_fault(Fault)`,
`add_outcome(Outcome)`, `webhook_faults = WebhookFaults(...)`, `config.<field> = ...`,
`settle_all()` (stats), `requests`, `reset()`. Over HTTP: POST /_sandbox/faults, /outcomes,
/webhooks, /advance {"seconds"}, /reset; PATCH /_sandbox/config; GET /_sandbox/stats, /requests.

Modules: `config` (knobs and scripted faults), `validation` (the request schemas), `inputs`
(fetching input images), `images` (cost, sizes and pictures), `state` (jobs and their
lifecycle), `routes` (submission, polling, account, CDN), `edits` (upscale, edit and the model
catalogue), `control` (`/_sandbox/*`), `server` (the app and `serve`). Import from this
package, not the modules.
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
from bot.apiframe.sandbox.edits import catalogue, edit, models, upscale
from bot.apiframe.sandbox.images import (
    OUTPAINT_PRESETS,
    THUMBNAIL_GAP,
    credit_cost,
    dimensions,
    outpaint_canvas,
    render,
    thumbnail_boxes,
    topaz_cost,
)
from bot.apiframe.sandbox.inputs import InputError, InputImage, fetch_image
from bot.apiframe.sandbox.routes import cdn, generate, get_job, me
from bot.apiframe.sandbox.server import create_app, serve
from bot.apiframe.sandbox.state import SANDBOX_KEY, Sandbox, SandboxJob
from bot.apiframe.sandbox.validation import (
    CONTENT_TYPES,
    EDIT_MODELS,
    EVENTS,
    FLUX_KEYS,
    MODELS,
    PARAMS_KEYS,
    RESOLUTIONS,
    SCHEMA_PATH,
    TOP_KEYS,
    UPSCALE_MODELS,
    validate_body,
    validate_image_body,
)

__all__ = [
    "CONTENT_TYPES",
    "EDIT_MODELS",
    "EVENTS",
    "FLUX_KEYS",
    "MODELS",
    "MODERATION_ERROR",
    "OUTPAINT_PRESETS",
    "PARAMS_KEYS",
    "RESOLUTIONS",
    "SANDBOX_KEY",
    "SCHEMA_PATH",
    "THUMBNAIL_GAP",
    "TOP_KEYS",
    "UPSCALE_MODELS",
    "Fault",
    "InputError",
    "InputImage",
    "Outcome",
    "Sandbox",
    "SandboxConfig",
    "SandboxJob",
    "WebhookFaults",
    "catalogue",
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
    "edit",
    "fetch_image",
    "generate",
    "get_job",
    "me",
    "models",
    "outpaint_canvas",
    "render",
    "serve",
    "thumbnail_boxes",
    "topaz_cost",
    "upscale",
    "validate_body",
    "validate_image_body",
]
