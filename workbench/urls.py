"""Pages of the workbench. The right panel and the terminal keep their
routes in ``panel_urls.py``."""

from __future__ import annotations

from django.urls import include, path

from workbench import views

T = "o/<str:org_id>/t/<str:task_id>/"
S = T + "s/<str:session_id>/"

urlpatterns: list = [
    path("o/<str:org_id>/", views.workbench, name="workbench"),
    path("o/<str:org_id>/sidebar/", views.sidebar_rows, name="workbench-sidebar"),
    path("o/<str:org_id>/new/", views.new_task, name="workbench-new-task"),
    path(T, views.task_view, name="workbench-task"),
    path(T + "rename/", views.rename_task, name="workbench-rename-task"),
    path(T + "sessions/new/", views.new_session, name="workbench-new-session"),
    path(S + "transcript/", views.transcript, name="workbench-transcript"),
    path(S + "send/", views.send_message, name="workbench-send"),
    path(S + "stop/", views.stop, name="workbench-stop"),
    path(S + "permission/", views.answer_permission, name="workbench-permission"),
    path(S + "rename/", views.rename_session, name="workbench-rename-session"),
    path(S + "close/", views.close_session, name="workbench-close-session"),
    path("", include("workbench.panel_urls")),
]
