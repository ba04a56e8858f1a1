"""Websocket routes of the tasks app (included by ``foundry/asgi.py``)."""

from django.urls import path

from tasks.consumers import SessionTranscriptConsumer

websocket_urlpatterns = [
    path(
        "ws/o/<str:org>/t/<str:task>/s/<str:session>/",
        SessionTranscriptConsumer.as_asgi(),
    ),
]
