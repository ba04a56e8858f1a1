"""The audit log's one action.

An entry records an action that already happened: a failed append is
logged loudly (with the entry) and never breaks that action. It runs in
the caller's transaction when there is one, in a savepoint so that a failed
insert does not poison it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, transaction

from audit_log.models import SYSTEM, AuditEntry, AuditKind

logger = logging.getLogger(__name__)


def append(
    kind: AuditKind | str, *, actor: str = SYSTEM, org: str = "", target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry | None:
    """Record ``kind`` done by ``actor`` (a GitHub login, or "system") in
    ``org`` on ``target``. Returns the entry, or None when it failed."""
    kind = AuditKind(kind)
    try:
        with transaction.atomic():
            return AuditEntry.objects.create(
                actor=actor, org=org, kind=kind, target=target, details=details or {}
            )
    except (DatabaseError, TypeError, ValueError):
        logger.exception(
            "AUDIT ENTRY LOST: %s by %s in %r on %r (%r)", kind, actor, org, target, details
        )
        return None
