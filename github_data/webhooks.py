"""GitHub App webhooks: verify, record once, hand the change to the actors.

The view answers within one transaction and never calls GitHub: it checks
the signature (githubkit's verifier: HMAC-SHA256, constant time), inserts
the delivery (its unique id makes a redelivery a no-op), and sends
fire-and-forget commands that commit with the delivery row, so a recorded
delivery always has its commands and a rolled back one has none. The
commands do the work on the workers.

Dispatch is a set of small pure functions, one per event, from a payload to
the commands it means (``Outgoing``). Repositories and pull requests are read
by the client's parsers, as the full sync reads them. A payload missing what
its event needs, or carrying it malformed, is a 400 naming the field, never
a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from githubkit.webhooks import verify as verify_signature

from audit_log.append import append
from audit_log.models import AuditKind
from foundry.actors import InvalidPayload
from foundry.actors.errors import InvalidKey
from foundry.actors.models import Command, CommandStatus
from github_data.actor import github_data
from github_data.client import PullRequestData, RepoData
from github_data.models import WebhookDelivery
from orgs.actor import organization
from orgs.models import InstallationStatus

INSTALLATION_STATUS_OF_ACTION = {
    "deleted": InstallationStatus.REMOVED,
    "suspend": InstallationStatus.SUSPENDED,
    "unsuspend": InstallationStatus.INSTALLED,
    "created": InstallationStatus.INSTALLED,
}

log = logging.getLogger(__name__)
T = TypeVar("T")

FULL_SYNC = "github_data.command.full_sync"
# A sync that has not finished yet will read GitHub after this delivery
# anyway; a second one would only repeat it.
# Only a sync that has not started makes another redundant: one already
# running may have listed repositories before this change.
PENDING_SYNC_STATUSES = (CommandStatus.QUEUED,)


class BadPayload(Exception):
    """The payload lacks something its event needs (answered with 400)."""


@dataclass(frozen=True)
class Outgoing:
    """One command a delivery means: which actor, which instance, what."""

    actor: str  # "github_data" or "organization"
    org: str
    name: str
    body: dict[str, Any] = field(default_factory=dict)


# --- payload access --------------------------------------------------------


def dig(payload: Any, *path: str) -> Any:
    """``payload[path[0]][path[1]]...``, or BadPayload naming the path."""
    value = payload
    for i, key in enumerate(path):
        if not isinstance(value, dict) or value.get(key) in (None, ""):
            raise BadPayload(f"payload has no {'.'.join(path[: i + 1])}")
        value = value[key]
    return value


def org_id_of_account(account: Any) -> str:
    """``<login>`` for an organization, ``personal-<login>`` for a user."""
    login = str(dig(account, "login"))
    return login if account.get("type") == "Organization" else f"personal-{login}"


def org_id_of(payload: dict[str, Any]) -> str:
    """The organization a repository or membership event belongs to."""
    if isinstance(payload.get("organization"), dict):
        return str(dig(payload, "organization", "login"))
    return org_id_of_account(dig(payload, "repository", "owner"))


def parsed(build: Callable[[Any], T], payload: Any, *path: str) -> T:
    """The object at ``path`` read by the client's own parser (``RepoData``,
    ``PullRequestData``: the one mapping of GitHub's JSON), or BadPayload
    naming what is wrong with it."""
    value = dig(payload, *path)
    try:
        return build(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadPayload(f"payload's {'.'.join(path)} is malformed: {exc!r}") from exc


# --- dispatch: one function per event ---------------------------------------


def full_sync_for(installation: Any, status: str) -> Outgoing:
    account = dig(installation, "account")
    org = org_id_of_account(account)
    return Outgoing("github_data", org, FULL_SYNC, {
        "org": org, "installation_id": dig(installation, "id"),
        "connected_account": dig(account, "login"), "installation_status": status,
    })


def on_installation(action: str, payload: dict[str, Any]) -> list[Outgoing]:
    installation = dig(payload, "installation")
    if action in ("created", "unsuspend"):
        return [full_sync_for(installation, INSTALLATION_STATUS_OF_ACTION[action])]
    if action in ("deleted", "suspend"):
        account = dig(installation, "account")
        return [Outgoing("organization", org_id_of_account(account),
                         "organization.command.set_installation", {
            "login": dig(account, "login"), "installation_id": dig(installation, "id"),
            "status": INSTALLATION_STATUS_OF_ACTION[action],
        })]
    return []


def on_installation_repositories(action: str, payload: dict[str, Any]) -> list[Outgoing]:
    return [full_sync_for(dig(payload, "installation"), InstallationStatus.INSTALLED)]


PULL_REQUEST_ACTIONS = {
    "opened", "reopened", "edited", "closed", "synchronize", "ready_for_review",
    "converted_to_draft",
}


def on_pull_request(action: str, payload: dict[str, Any]) -> list[Outgoing]:
    if action not in PULL_REQUEST_ACTIONS:
        return []
    body = {
        "repository": parsed(RepoData.from_json, payload, "repository"),
        "pull_request": parsed(PullRequestData.from_json, payload, "pull_request"),
    }
    return [Outgoing("github_data", org_id_of(payload),
                     "github_data.command.apply_pull_request", body)]


def branch_change(payload: dict[str, Any], branch: str, head_sha: str,
                  deleted: bool) -> Outgoing:
    return Outgoing("github_data", org_id_of(payload), "github_data.command.apply_branch", {
        "repository": parsed(RepoData.from_json, payload, "repository"), "branch": branch,
        "head_sha": "" if deleted else head_sha, "deleted": deleted,
    })


def on_push(action: str, payload: dict[str, Any]) -> list[Outgoing]:
    ref = str(dig(payload, "ref"))
    if not ref.startswith("refs/heads/"):
        return []  # a tag
    deleted = bool(payload.get("deleted"))
    after = "" if deleted else str(dig(payload, "after"))
    return [branch_change(payload, ref.removeprefix("refs/heads/"), after, deleted)]


def on_ref(deleted: bool) -> Callable[[str, dict[str, Any]], list[Outgoing]]:
    """``create`` / ``delete``: only branches; the sha arrives with the push."""

    def dispatch(action: str, payload: dict[str, Any]) -> list[Outgoing]:
        if payload.get("ref_type") != "branch":
            return []
        return [branch_change(payload, str(dig(payload, "ref")), "", deleted)]

    return dispatch


def on_organization(action: str, payload: dict[str, Any]) -> list[Outgoing]:
    if action not in ("member_added", "member_removed"):
        return []
    user = dig(payload, "membership", "user")
    return [Outgoing("github_data", str(dig(payload, "organization", "login")),
                     "github_data.command.apply_member", {
        "github_id": dig(user, "id"), "login": dig(user, "login"),
        "avatar_url": user.get("avatar_url") or "", "removed": action == "member_removed",
    })]


DISPATCH: dict[str, Callable[[str, dict[str, Any]], list[Outgoing]]] = {
    "installation": on_installation,
    "installation_repositories": on_installation_repositories,
    "pull_request": on_pull_request,
    "push": on_push,
    "create": on_ref(deleted=False),
    "delete": on_ref(deleted=True),
    "organization": on_organization,
}


def event_org(event: str, payload: dict[str, Any]) -> str:
    """For the delivery row only: best effort, never an error."""
    try:
        if event.startswith("installation"):
            return org_id_of_account(dig(payload, "installation", "account"))
        return org_id_of(payload)
    except BadPayload:
        return ""


INSTALLATION_AUDIT_KINDS = {
    "created": AuditKind.INSTALLATION_CREATED,
    "deleted": AuditKind.INSTALLATION_DELETED,
    "suspend": AuditKind.INSTALLATION_SUSPENDED,
    "unsuspend": AuditKind.INSTALLATION_UNSUSPENDED,
}


def audit_installation(event: str, action: str, payload: dict[str, Any]) -> None:
    """An installation event in the audit log, with who did it on GitHub."""
    kind = INSTALLATION_AUDIT_KINDS.get(action) if event == "installation" else None
    if kind is None:
        return
    installation = payload.get("installation") or {}
    sender = (payload.get("sender") or {}).get("login") or "system"
    append(
        kind, actor=str(sender), org=event_org(event, payload)[:100],
        target=str(installation.get("id", "")),
        details={"account": (installation.get("account") or {}).get("login", "")},
    )


# --- the view ---------------------------------------------------------------


def signature_is_valid(body: bytes, header: str) -> bool:
    """githubkit's verifier (constant-time), for the SHA-256 header only: it
    would also accept a ``sha1=`` signature, and a non-ASCII header would make
    its ``hmac.compare_digest`` raise instead of answering no."""
    secret = settings.GITHUB_WEBHOOK_SECRET or ""
    if not secret or not header.startswith("sha256=") or not header.isascii():
        return False
    return bool(verify_signature(secret, body, header))


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def send(out: Outgoing) -> int | None:
    """Send one command; None when a full sync of that org is already pending."""
    actor = github_data if out.actor == "github_data" else organization
    handle = actor.get_or_create(org=out.org, create_with_input={"org": out.org})
    if out.name == FULL_SYNC and Command.objects.filter(
        instance_id=handle.instance_id, name=FULL_SYNC, status__in=PENDING_SYNC_STATUSES
    ).exists():
        return None
    ref = handle.send(out.name, out.body)
    return int(ref.id)


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> JsonResponse:
    body = request.body
    if not signature_is_valid(body, request.headers.get("X-Hub-Signature-256", "")):
        return error(401, "missing or invalid X-Hub-Signature-256")
    event = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not event or not delivery_id:
        return error(400, "missing X-GitHub-Event or X-GitHub-Delivery")
    if len(delivery_id) > 100 or len(event) > 64:
        return error(400, "X-GitHub-Event or X-GitHub-Delivery is too long")
    try:
        payload = json.loads(body)
    except ValueError:
        return error(400, "body is not JSON")
    if not isinstance(payload, dict):
        return error(400, "body is not a JSON object")
    action = payload.get("action") or ""
    dispatch = DISPATCH.get(event)
    try:
        outgoing = dispatch(str(action), payload) if dispatch else []
    except BadPayload as exc:
        return error(400, f"{event}: {exc}")
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():  # a savepoint: a duplicate is not an error
                    delivery = WebhookDelivery.objects.create(
                        delivery_id=delivery_id, event=event,
                        action=str(action)[:64], org=event_org(event, payload)[:100],
                    )
            except IntegrityError:
                return JsonResponse({"status": "duplicate"}, status=200)
            ids = [i for i in map(send, outgoing) if i is not None]
            delivery.command_ids = ids
            delivery.save(update_fields=["command_ids"])
            audit_installation(event, str(action), payload)
    except (InvalidPayload, InvalidKey) as exc:
        # Rolled back: a payload that passes dispatch but not the command's
        # schema (or names an impossible org) leaves no trace either.
        return error(400, f"{event}: {exc}")
    if not outgoing:
        return JsonResponse({"status": "ignored"}, status=202)
    log.info("webhook %s %s.%s -> commands %s", delivery_id, event, action, ids)
    return JsonResponse({"status": "accepted", "command_ids": ids}, status=202)
