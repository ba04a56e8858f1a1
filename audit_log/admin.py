"""The audit log in the admin: read-only, filterable by organization and kind."""

from __future__ import annotations

from django.contrib import admin

from audit_log.models import AuditEntry
from foundry.admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "actor", "org", "target"]
    list_filter = ["kind", "org"]
    search_fields = ["actor", "org", "target"]
    date_hierarchy = "at"
    ordering = ["-at"]
    show_full_result_count = False
