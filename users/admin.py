"""The user actor's tables in the admin, read-only (tokens never shown)."""

from __future__ import annotations

from django.contrib import admin

from foundry.admin import ReadOnlyAdmin
from users.models import Membership, UserProfile


@admin.register(UserProfile)
class UserProfileAdmin(ReadOnlyAdmin):
    list_display = ["login", "name", "email", "last_org", "signed_in_at"]
    search_fields = ["login", "name", "email"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "org", "role", "created_at"]
    list_filter = ["org", "role"]
    list_select_related = ["user"]
    search_fields = ["user__username", "org"]
