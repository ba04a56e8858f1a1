"""Read-only admin of the sandbox actor's tables: sandboxes and their history."""

from __future__ import annotations

from django.contrib import admin

from foundry.admin import ReadOnlyAdmin, ReadOnlyPermissions
from sandboxes.models import Sandbox, SandboxEvent


class SandboxEventInline(ReadOnlyPermissions, admin.TabularInline):  # type: ignore[type-arg]
    model = SandboxEvent
    fields = ("at", "generation", "status", "detail")
    readonly_fields = fields
    extra = 0


@admin.register(Sandbox)
class SandboxAdmin(ReadOnlyAdmin):
    list_display = [
        "sandbox_id", "org", "provider", "status", "generation", "server_epoch", "branch",
        "last_keepalive_at", "updated_at",
    ]
    list_filter = ["provider", "status", "org"]
    search_fields = ["sandbox_id", "provider_sandbox_id", "repo_full_name", "branch"]
    exclude = ["agent_token"]  # a secret of E2B sandboxes
    inlines = [SandboxEventInline]


@admin.register(SandboxEvent)
class SandboxEventAdmin(ReadOnlyAdmin):
    list_display = ["sandbox", "at", "generation", "status", "detail"]
    list_select_related = ["sandbox"]  # the sandbox column, without a query per row
    list_filter = ["status"]
