"""Commands of the sandbox actor: provision, ensure, keep-alive, pause,
resume, destroy, and the bookkeeping around them.

Outside I/O (the provider, git, the agent server) happens inside steps, and
each provider call is idempotent per (sandbox, generation) (see
``providers/base.py``): a worker killed during provisioning leaves the
command to resume at its interrupted step, which finds the half-made
sandbox and reuses it (or stops its agent server before starting one), so
one sandbox and one server remain. Commands of one sandbox run one at a
time, so two first uses at once give one sandbox: the second ``ensure``
finds the first one's.

A provider saying the sandbox is gone is recorded (status, event) and is
never an error of the command; ``ensure`` then provisions a new generation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from audit_log.append import append as audit
from audit_log.models import SYSTEM, AuditKind
from foundry.actors.context import CommandContext
from orgs.models import Organization
from sandboxes import records
from sandboxes.actor import sandbox
from sandboxes.models import SandboxStatus
from sandboxes.providers import (
    SandboxGone,
    SandboxPlace,
    SandboxSpec,
    get_provider,
)
from sandboxes.schemas import ActivityIn, EnsureIn, RepositoryIn


def _key(ctx: CommandContext) -> tuple[str, str]:
    fields = ctx.key_fields
    return fields["org"], fields["sandbox"]


def git_token(org: str, installation_id: int | None) -> str:
    """An installation token of the GitHub App for the clone; empty (an
    anonymous clone) when the organization has no installation. Never
    returned from a step: the step log would keep it."""
    from github_data.client import GitHubClient

    installation = installation_id or (
        Organization.objects.filter(org_id=org).values_list("installation_id", flat=True).first()
    )
    if not installation:
        return ""
    with GitHubClient(installation_id=installation) as client:
        return client.create_installation_token()


def _provision(ctx: CommandContext, repository: RepositoryIn, *, why: str) -> dict[str, Any]:
    org, sandbox_id = _key(ctx)
    begun = ctx.step("begin", records.begin_provisioning, org, sandbox_id,
                     repository.model_dump(mode="json"), why)
    if begun["previous"]:
        previous = begun["previous"]
        ctx.step("destroy previous generation", lambda: get_provider(previous["provider"])
                 .destroy(SandboxPlace.from_json(previous["place"])))
    spec = SandboxSpec(**begun["spec"])
    provider = get_provider(begun["provider"])
    try:
        created = ctx.step("create", lambda: records.save_place(
            org, sandbox_id, provider.create(spec)))
        place = SandboxPlace.from_json(created)
        ctx.step("clone", lambda: records.save_place(org, sandbox_id, provider.clone(
            spec, place, token=git_token(org, repository.installation_id))))
        started = ctx.step("start agent server", lambda: records.save_place(
            org, sandbox_id, provider.start_agent_server(spec, place)))
        return dict(ctx.step("ready", records.mark_ready, org, sandbox_id,
                             SandboxPlace.from_json(started)))
    except Exception as exc:
        detail = f"provisioning failed: {type(exc).__name__}: {exc}"
        ctx.step("record failure", records.record_gone, org, sandbox_id,
                 SandboxStatus.ERROR, detail)
        raise


@sandbox.command("sandbox.command.provision", payload=RepositoryIn)
def provision(ctx: CommandContext, payload: RepositoryIn) -> dict[str, Any]:
    """A new sandbox (a new generation) for the task's repository and branch:
    create, clone, start sandbox-agent, wait for /v1/health."""
    return _provision(ctx, payload, why="provisioning")


def _connect(org: str, sandbox_id: str) -> dict[str, Any]:
    """The sandbox running with a live agent server, or why it needs
    provisioning (never provisioned, failed, gone)."""
    row = records.row(org, sandbox_id)
    if row is None or not row.generation:
        return {"provision": "first use"}
    repository = {"repo": row.repo_full_name, "clone_url": row.clone_url, "branch": row.branch,
                  "installation_id": row.installation_id}
    if row.status in (SandboxStatus.DESTROYED, SandboxStatus.ERROR, SandboxStatus.PROVISIONING):
        why = f"it was {row.status}" + (f" ({row.status_detail})" if row.status_detail else "")
        return {"provision": why, "repository": repository}
    try:
        place = get_provider(row.provider).connect(records.spec_of(row), records.place_of(row))
    except SandboxGone as gone:
        records.record_gone(org, sandbox_id, gone.status, gone.detail)
        return {"provision": f"the provider says {gone}", "repository": repository}
    return {"sandbox": records.mark_ready(org, sandbox_id, place)}


@sandbox.command("sandbox.command.ensure", payload=EnsureIn)
def ensure(ctx: CommandContext, payload: EnsureIn) -> dict[str, Any]:
    """Connect to the sandbox (starting its agent server again if it had
    stopped), or provision it when it never was or the provider says it is
    gone. Returns the sandbox, with ``reprovisioned`` when it is a new one."""
    org, sandbox_id = _key(ctx)
    found = ctx.step("connect", _connect, org, sandbox_id)
    if "sandbox" in found:
        return {**found["sandbox"], "reprovisioned": False}
    repository = payload.repository or (
        RepositoryIn.model_validate(found["repository"]) if found.get("repository") else None
    )
    if repository is None:
        raise records.SandboxNotProvisioned(org, sandbox_id)
    out = _provision(ctx, repository, why=f"provisioning: {found['provision']}")
    return {**out, "reprovisioned": found["provision"] != "first use"}


def _with_ready(org: str, sandbox_id: str, action: str) -> dict[str, Any]:
    """Run ``action`` of the provider on a ready sandbox; record what the
    provider says when it is gone."""
    row = records.row(org, sandbox_id)
    if row is None:
        raise records.SandboxNotProvisioned(org, sandbox_id)
    if row.status != SandboxStatus.READY:
        return records.describe(row)
    provider = get_provider(row.provider)
    try:
        if action == "keep_alive":
            provider.keep_alive(records.place_of(row))
            row.last_keepalive_at = timezone.now()
            row.save(update_fields=["last_keepalive_at"])
        elif action == "pause":
            provider.pause(records.place_of(row))
            records.set_status(row, SandboxStatus.PAUSED, "paused by a person")
        elif action == "stop_idle":
            provider.stop(records.place_of(row))
            records.set_status(row, SandboxStatus.EXPIRED,
                               "stopped after being idle; the next use starts it again")
    except SandboxGone as gone:
        return records.record_gone(org, sandbox_id, gone.status, gone.detail)
    return records.describe(row)


@sandbox.command("sandbox.command.keep_alive")
def keep_alive(ctx: CommandContext, payload: Any) -> dict[str, Any]:
    """Extend the provider's timeout (sent by beat for sandboxes in use)."""
    org, sandbox_id = _key(ctx)
    return dict(ctx.step("keep alive", _with_ready, org, sandbox_id, "keep_alive"))


@sandbox.command("sandbox.command.pause")
def pause(ctx: CommandContext, payload: Any) -> dict[str, Any]:
    """A person's choice: the provider pauses it (local: the agent server stops)."""
    org, sandbox_id = _key(ctx)
    return dict(ctx.step("pause", _with_ready, org, sandbox_id, "pause"))


@sandbox.command("sandbox.command.stop_idle")
def stop_idle(ctx: CommandContext, payload: Any) -> dict[str, Any]:
    """Beat, for a local sandbox idle too long: stop its agent server."""
    org, sandbox_id = _key(ctx)

    def stop_if_still_idle() -> dict[str, Any]:
        row = records.row(org, sandbox_id)
        if row is None or not _idle(row):
            return records.describe(row) if row else {}
        return _with_ready(org, sandbox_id, "stop_idle")

    return dict(ctx.step("stop if idle", stop_if_still_idle))


def _idle(row: Any) -> bool:
    from sandboxes.keepalive import is_idle

    return is_idle(row, timezone.now())


@sandbox.command("sandbox.command.resume")
def resume(ctx: CommandContext, payload: Any) -> dict[str, Any]:
    """A paused sandbox running again (E2B resumes it; local starts its
    agent server); re-provisioned if the provider says it is gone."""
    return ensure(ctx, EnsureIn())


@sandbox.command("sandbox.command.check")
def check(ctx: CommandContext, payload: Any) -> dict[str, Any]:
    """Ask the provider how the sandbox is, without changing it, and record
    it (a read that found the agent server unreachable sends this)."""
    org, sandbox_id = _key(ctx)

    def probe() -> dict[str, Any]:
        row = records.row(org, sandbox_id)
        if row is None:
            raise records.SandboxNotProvisioned(org, sandbox_id)
        if row.status not in (SandboxStatus.READY, SandboxStatus.PAUSED):
            return records.describe(row)
        try:
            state = get_provider(row.provider).probe(records.place_of(row))
        except SandboxGone as gone:
            return records.record_gone(org, sandbox_id, gone.status, gone.detail)
        if state == "paused":
            records.set_status(row, SandboxStatus.PAUSED, row.status_detail)
        elif state == "stopped":
            records.set_status(row, SandboxStatus.EXPIRED,
                               "the agent server is not running; the next use starts it")
        return records.describe(row)

    return dict(ctx.step("probe", probe))


@sandbox.command("sandbox.command.destroy")
def destroy(ctx: CommandContext, payload: Any) -> dict[str, Any]:
    org, sandbox_id = _key(ctx)

    def destroy_it() -> dict[str, Any]:
        row = records.row(org, sandbox_id)
        if row is None:
            raise records.SandboxNotProvisioned(org, sandbox_id)
        if row.provider_sandbox_id:
            get_provider(row.provider).destroy(records.place_of(row))
        audit(AuditKind.SANDBOX_DESTROYED, actor=SYSTEM, org=org, target=sandbox_id,
              details={"provider": row.provider, "generation": row.generation})
        return records.record_gone(org, sandbox_id, SandboxStatus.DESTROYED, "destroyed")

    return dict(ctx.step("destroy", destroy_it))


@sandbox.command("sandbox.command.note_activity", payload=ActivityIn)
def note_activity(ctx: CommandContext, payload: ActivityIn) -> dict[str, Any]:
    """Someone watches the sandbox, or a turn started or ended: beat keeps
    such sandboxes alive and never stops them as idle."""
    org, sandbox_id = _key(ctx)

    def note() -> dict[str, Any]:
        row = records.row(org, sandbox_id)
        if row is None:
            raise records.SandboxNotProvisioned(org, sandbox_id)
        now = timezone.now()
        if payload.watch_seconds is not None:
            row.watched_until = now + timedelta(seconds=payload.watch_seconds)
        if payload.turn_running is not None:
            row.turn_running = payload.turn_running
        row.last_used_at = now
        row.save(update_fields=["watched_until", "turn_running", "last_used_at"])
        return records.describe(row)

    return dict(ctx.step("note", note))
