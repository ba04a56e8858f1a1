"""Read-only admin of the GitHub cache; the sync state shows progress."""

from __future__ import annotations

from django.contrib import admin

from foundry.admin import ReadOnlyAdmin
from github_data.models import (
    GitHubBranch,
    GitHubMember,
    GitHubPullRequest,
    GitHubRepository,
    SyncState,
    WebhookDelivery,
)


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = ["org", "status", "phase", "progress", "label", "started_at", "finished_at"]
    list_filter = ["status"]

    @admin.display(description="progress")
    def progress(self, obj: SyncState) -> str:
        return f"{obj.processed}/{obj.total}" if obj.total else "–"


@admin.register(GitHubRepository)
class RepositoryAdmin(ReadOnlyAdmin):
    list_display = ["full_name", "org", "default_branch", "private"]
    list_filter = ["org", "private"]
    search_fields = ["full_name"]


@admin.register(GitHubBranch)
class BranchAdmin(ReadOnlyAdmin):
    list_display = ["name", "repository", "head_sha"]
    list_select_related = ["repository"]  # the repository column, without a query per row
    list_filter = ["org"]
    search_fields = ["name", "repository__full_name"]


@admin.register(GitHubMember)
class MemberAdmin(ReadOnlyAdmin):
    list_display = ["login", "org", "account_type"]
    list_filter = ["org"]
    search_fields = ["login"]


@admin.register(GitHubPullRequest)
class PullRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "repository",
        "number",
        "title",
        "head_ref",
        "head_repo_full_name",
        "author_login",
        "updated_at",
    ]
    list_select_related = ["repository"]
    list_filter = ["org"]
    search_fields = ["title", "head_ref", "repository__full_name"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["delivery_id", "event", "action", "org", "received_at"]
    list_filter = ["event"]
    search_fields = ["delivery_id", "org"]
