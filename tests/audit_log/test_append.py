"""The audit log's append: an entry per call; a failed append is logged
loudly and leaves the caller's transaction usable."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from audit_log.append import append
from audit_log.models import AuditEntry, AuditKind

pytestmark = pytest.mark.django_db


def test_append_records_an_entry() -> None:
    entry = append(AuditKind.SIGN_IN, actor="alice", org="acme", details={"ip": "127.0.0.1"})
    assert entry is not None
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor, stored.org, stored.kind, stored.details) == (
        "alice", "acme", "sign_in", {"ip": "127.0.0.1"},
    )


def test_a_failed_append_is_loud_and_harmless(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR), transaction.atomic():
        assert append(AuditKind.SYNC_FAILED, org="acme", details={"bad": object()}) is None
        # The surrounding transaction still works.
        append(AuditKind.SYNC_STARTED, org="acme")
    assert "AUDIT ENTRY LOST" in caplog.text
    assert list(AuditEntry.objects.values_list("kind", flat=True)) == ["sync_started"]
    with pytest.raises(ValueError):
        append("no such kind")
