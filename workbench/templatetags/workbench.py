"""Template filters of the workbench: markdown (escaped) and ages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

register = template.Library()

# CommonMark with raw HTML off: an agent's "<script>" is shown, never run.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@register.filter
def markdown(text: str) -> SafeString:
    return mark_safe(_markdown.render(text or ""))  # noqa: S308 (html off: escaped)


@register.filter
def age(when: datetime | None) -> str:
    """A short relative age: ``now``, ``5m``, ``3h``, ``2d``, ``4w``."""
    if when is None:
        return ""
    seconds = max(0, int((timezone.now() - when).total_seconds()))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


@register.filter
def tool_output(data: dict[str, Any]) -> str:
    """A tool call's result as text: its ACP content blocks (text, diffs),
    else its raw output."""
    parts: list[str] = []
    for block in data.get("content") or []:
        if not isinstance(block, dict):
            continue
        inner = block.get("content")
        if isinstance(inner, dict) and inner.get("text"):
            parts.append(str(inner["text"]))
        elif block.get("type") == "diff":
            parts.append(f"{block.get('path', '')}\n{block.get('newText', '')}")
    if not parts and data.get("rawOutput") is not None:
        raw = data["rawOutput"]
        parts.append(raw if isinstance(raw, str) else json.dumps(raw, indent=2))
    return "\n".join(parts)


@register.filter
def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


@register.filter
def tool_title(tool_call: Any) -> str:
    if isinstance(tool_call, dict):
        return str(tool_call.get("title") or tool_call.get("kind") or "a tool")
    return "a tool"


OPEN_TOOL_STATUSES = {"pending", "in_progress", ""}


@register.filter
def is_open(item: Any) -> bool:
    """Whether a later event may still change this item (it is re-read)."""
    if item.kind in ("tool_call", "tool_call_update"):
        return str(item.data.get("status") or "") in OPEN_TOOL_STATUSES
    if item.kind == "permission_request":
        return item.data.get("status") == "pending"
    return False
