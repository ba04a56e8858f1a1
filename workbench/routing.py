"""Websocket routes of the workbench (the page's live socket, the
terminal), included by ``foundry/routing.py``."""

from __future__ import annotations

from django.urls import path

from workbench.terminal import TerminalConsumer

websocket_urlpatterns: list = [
    path("ws/o/<str:org>/t/<str:task_id>/terminal/", TerminalConsumer.as_asgi()),
]
