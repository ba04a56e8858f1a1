"""Routes of the github_data app, mounted under ``github/``."""

from django.urls import path

from github_data import webhooks

app_name = "github_data"

urlpatterns = [
    path("webhook", webhooks.receive, name="webhook"),
]
