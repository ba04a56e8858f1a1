"""Websocket routes (Channels). Each consumer checks access itself when
the socket opens; add task and session sockets here beside the
organization's."""

from __future__ import annotations

from django.urls import path

from orgs.consumers import OrganizationConsumer
from tasks.routing import websocket_urlpatterns as task_websockets
from workbench.routing import websocket_urlpatterns as workbench_websockets

websocket_urlpatterns = [
    path("ws/o/<str:org_id>/", OrganizationConsumer.as_asgi()),
    *task_websockets,
    *workbench_websockets,
]
