"""Routes of the task view's right panel (Overview, Changes, Files) and
its terminal."""

from __future__ import annotations

from django.urls import path

from workbench import panel

P = "o/<str:org>/t/<str:task_id>/panel/"

urlpatterns: list = [
    path(f"{P}page/", panel.page, name="panel-page"),
    path(f"{P}diff/", panel.file_diff, name="panel-diff"),
    path(f"{P}revert/", panel.revert, name="panel-revert"),
    path(f"{P}owner/", panel.change_owner, name="panel-owner"),
    path(f"{P}push/", panel.push, name="panel-push"),
    path(f"{P}pr/", panel.open_pr, name="panel-pr"),
    path(f"{P}sandbox/<str:action>/", panel.sandbox_action, name="panel-sandbox"),
    path(f"{P}<str:tab>/", panel.panel, name="panel"),
]
