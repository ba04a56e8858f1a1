"""System checks for the actor runtime's settings.

``manage.py check`` (and every management command that runs checks) refuses
values the runtime cannot work with; ``manage.py check --deploy`` adds what a
production deployment gets wrong.

A non-memory broker without ``REDIS_URL`` is not checked here: it is refused
when the settings load (``foundry/settings.py``), because ``celery worker``,
``celery beat`` and uvicorn never run Django's checks.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, Warning, register

TAG = "foundry.actors"
# On PostgreSQL the lease period sets the TCP keepalive of the workers'
# sessions: shorter, and a brief network stall ends a live worker's session
# (and its leases), and its step runs again elsewhere.
MIN_DEPLOY_LEASE_SECONDS = 10.0


def _positive(name: str, *, minimum: float = 0.0, strict: bool = True) -> Error | None:
    value = getattr(settings, name)
    if (value > minimum) if strict else (value >= minimum):
        return None
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    return Error(
        f"{name} is {value!r}; it must be {bound}.",
        hint=f"Set {name} in the environment to a number {bound}, or unset it for the default.",
        id=f"{TAG}.E001",
    )


@register(TAG)
def check_runtime_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Values the runtime cannot work with, in any deployment."""
    issues: list[CheckMessage] = [
        issue for issue in (
            _positive("FOUNDRY_ACTOR_LEASE_SECONDS"),
            _positive("FOUNDRY_ACTOR_SWEEP_SECONDS"),
            _positive("FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS"),
            _positive("FOUNDRY_ACTOR_WAIT_SECONDS"),
            _positive("FOUNDRY_ACTOR_WAIT_RECHECK_SECONDS"),
            _positive("FOUNDRY_ACTOR_EMBEDDED_WATCH_SECONDS"),
            _positive("FOUNDRY_WORKER_PRESENCE_SECONDS"),
            _positive("FOUNDRY_HISTORY_PRUNE_SECONDS"),
            _positive("FOUNDRY_ACTOR_MAX_ATTEMPTS", minimum=1, strict=False),
            _positive("FOUNDRY_HISTORY_DAYS", minimum=1, strict=False),
            _positive("FOUNDRY_HISTORY_FAILED_DAYS", minimum=1, strict=False),
        ) if issue is not None
    ]
    if settings.FOUNDRY_WORKER_MODE not in ("inprocess", "external"):
        issues.append(Error(
            f"FOUNDRY_WORKER_MODE is {settings.FOUNDRY_WORKER_MODE!r}.",
            hint="Use 'inprocess' (the embedded worker, memory:// broker) or 'external' "
                 "(celery worker processes), or unset it.",
            id=f"{TAG}.E002",
        ))
    if settings.FOUNDRY_HISTORY_FAILED_DAYS < settings.FOUNDRY_HISTORY_DAYS:
        issues.append(Warning(
            f"FOUNDRY_HISTORY_FAILED_DAYS ({settings.FOUNDRY_HISTORY_FAILED_DAYS}) is shorter "
            f"than FOUNDRY_HISTORY_DAYS ({settings.FOUNDRY_HISTORY_DAYS}): failed commands "
            "would be deleted before succeeded ones.",
            hint="Keep failed commands at least as long as the others: they are the ones "
                 "someone comes back to.",
            id=f"{TAG}.W001",
        ))
    return issues


@register(TAG, deploy=True)
def check_runtime_deployment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """What a production deployment of the runtime gets wrong."""
    issues: list[CheckMessage] = []
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        issues.append(Error(
            "CELERY_BROKER_URL is memory:// (the embedded default): the broker lives inside "
            "one process, so `celery worker` processes would never hear a doorbell.",
            hint="Set CELERY_BROKER_URL and REDIS_URL to your Redis, e.g. "
                 "redis://redis:6379/0 (see README, The production shape).",
            id=f"{TAG}.E003",
        ))
    lease = settings.FOUNDRY_ACTOR_LEASE_SECONDS
    sweep = settings.FOUNDRY_ACTOR_SWEEP_SECONDS
    if 0 < lease < MIN_DEPLOY_LEASE_SECONDS:
        issues.append(Warning(
            f"FOUNDRY_ACTOR_LEASE_SECONDS is {lease:g}: PostgreSQL ends the session of a "
            "worker whose network stalls that long, its leases with it, and its step runs "
            "again elsewhere.",
            hint=f"Use at least {MIN_DEPLOY_LEASE_SECONDS:g} seconds (default 30).",
            id=f"{TAG}.W002",
        ))
    if sweep > lease > 0:
        issues.append(Warning(
            f"FOUNDRY_ACTOR_SWEEP_SECONDS ({sweep:g}) is longer than "
            f"FOUNDRY_ACTOR_LEASE_SECONDS ({lease:g}): the instances of a worker whose host "
            "vanished wait for the next sweep long after their leases ended.",
            hint="Sweep at least once per lease (defaults: sweep 10, lease 30).",
            id=f"{TAG}.W003",
        ))
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql") and database.get("OPTIONS", {}).get(
        "prepare_threshold"
    ):
        issues.append(Info(
            "The command loop prepares its statements once per PostgreSQL connection, and "
            "its leases are session advisory locks.",
            hint="Connect workers directly or through PgBouncer in session mode; behind "
                 "PgBouncer in transaction mode older than 1.21, also set "
                 "FOUNDRY_DB_PREPARED_STATEMENTS=0.",
            id=f"{TAG}.I001",
        ))
    return issues
