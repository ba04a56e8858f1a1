"""Websocket routes of the workbench (the page's live socket, the
terminal), included by ``foundry/routing.py``."""

from __future__ import annotations

websocket_urlpatterns: list = []
