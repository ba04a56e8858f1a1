"""Pages of the workbench. The right panel and the terminal keep their
routes in ``panel_urls.py``."""

from __future__ import annotations

from django.urls import include, path

urlpatterns: list = [
    path("", include("workbench.panel_urls")),
]
