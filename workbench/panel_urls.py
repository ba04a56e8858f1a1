"""Routes of the task view's right panel (Overview, Changes, Files) and
its terminal."""

from __future__ import annotations

urlpatterns: list = []
