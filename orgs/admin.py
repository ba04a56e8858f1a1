"""Read-only admin of the organization actor's tables."""

from __future__ import annotations

from django.contrib import admin

from foundry.admin import ReadOnlyAdmin
from orgs.models import Organization, TaskIndexEntry, TaskSummary


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ["org_id", "installation_status", "installation_id", "updated_at"]


@admin.register(TaskIndexEntry)
class TaskIndexEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "task_id",
        "org",
        "repo_id",
        "branch",
        "head_repo_full_name",
        "pr_number",
        "owns_branch",
        "archived",
        "created_at",
    ]
    list_filter = ["org", "owns_branch", "archived", "head_repo_fork"]
    search_fields = ["task_id", "branch", "head_repo_full_name"]


@admin.register(TaskSummary)
class TaskSummaryAdmin(ReadOnlyAdmin):
    list_display = [
        "task_id",
        "title",
        "repo_name",
        "branch",
        "pr_number",
        "pr_state",
        "status",
        "updated_at",
    ]
    list_filter = ["org", "status", "pr_state"]
    search_fields = ["task_id", "title", "branch"]
