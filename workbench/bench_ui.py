"""``bench_ui``: the workbench's server time with 10,000 tasks, a page of
the task list, and an event's way from the store to a real page.

- ``first_page_p50_ms``: ``GET /o/<org>/`` through Django's test client
  (the whole request in this process: middleware, views, templates,
  queries; no network), signed in as a member.
- ``sidebar_page_p50_ms``: a page of 50 of the task list, walking the
  whole list by cursor (deep pages cost what the first does). Measured on
  the workbench's sidebar URL when it has one (``workbench-sidebar``),
  else on the REST API's list, which pages the same ``orgs.task_list``.
- ``event_to_browser_p50_ms``: a change stored by the organization actor
  (its command's commit) → the text it carries present in a Chromium page
  of ``/o/<org>/`` (a MutationObserver stamps it). When the page shows task
  rows, the event is a task's new title (``update_task``); otherwise the
  sync label (``record_sync``), which this branch's organization page
  shows. ``event_path`` in the figures says which.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from orgs.actor import organization

# Stored on window, not returned: evaluate would wait for the promise.
WATCH_JS = """(text) => { window.benchWatch = new Promise((resolve) => {
  setTimeout(() => resolve(-1), 15000);
  const hit = () => document.body && document.body.textContent.includes(text);
  if (hit()) { resolve(performance.timeOrigin + performance.now()); return; }
  const seen = new MutationObserver(() => {
    if (hit()) { seen.disconnect(); resolve(performance.timeOrigin + performance.now()); }
  });
  seen.observe(document.body, {childList: true, subtree: true, characterData: true});
}); }"""


@dataclass
class Figures:
    first_page_ms: list[float]
    sidebar_page_ms: list[float]
    event_ms: list[float]
    sidebar_url: str
    event_path: str

    def as_json(self, *, tasks: int, database: str) -> dict[str, Any]:
        def p(values: list[float], q: float) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

        return {
            "database": database, "tasks": tasks,
            "first_page_p50_ms": round(statistics.median(self.first_page_ms), 2),
            "first_page_p90_ms": p(self.first_page_ms, 0.9),
            "sidebar_page_p50_ms": round(statistics.median(self.sidebar_page_ms), 2),
            "sidebar_page_p90_ms": p(self.sidebar_page_ms, 0.9),
            "sidebar_pages": len(self.sidebar_page_ms), "sidebar_url": self.sidebar_url,
            "event_to_browser_p50_ms": (round(statistics.median(self.event_ms), 2)
                                        if self.event_ms else None),
            "event_to_browser_p90_ms": p(self.event_ms, 0.9),
            "events": len(self.event_ms), "event_path": self.event_path,
        }


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def first_page(client: Client, org: str, runs: int) -> list[float]:
    def get() -> None:
        response = client.get(f"/o/{org}/")
        if response.status_code != 200:
            raise RuntimeError(f"GET /o/{org}/ answered {response.status_code}")

    get()  # warm: templates compiled, connections open
    return [timed(get) for _ in range(runs)]


def sidebar_url(org: str) -> str:
    try:
        return reverse("workbench-sidebar", kwargs={"org": org})
    except NoReverseMatch:
        return f"/api/v1/orgs/{org}/tasks"


def sidebar_pages(client: Client, org: str, pages: int) -> tuple[list[float], str]:
    url = sidebar_url(org)
    times: list[float] = []
    cursor: str | None = None
    while len(times) < pages:
        params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        response = client.get(url, params)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        cursor = _next_cursor(response)  # None at the end: start over from the top
    return times, url


def _next_cursor(response: Any) -> str | None:
    if response.get("Content-Type", "").startswith("application/json"):
        return response.json().get("next_cursor")
    return response.get("X-Next-Cursor") or None


def event_to_browser(page: Any, base: str, org: str, runs: int,
                     top_task: str, top_title: str) -> tuple[list[float], str]:
    """Each run stores a change through the organization actor, timed from
    just before the command is sent (so: queue + command + commit +
    publish + socket + the page's re-render)."""
    page.goto(f"{base}/o/{org}/")
    page.wait_for_load_state("networkidle")
    handle = organization.get_or_create(org=org, create_with_input={"org": org})
    rows = top_title in (page.text_content("body") or "")
    times: list[float] = []
    for n in range(runs):
        text = f"bench-event-{n}-{time.time_ns() % 10**9}"
        page.evaluate(WATCH_JS, text)
        started = time.time() * 1000
        if rows:
            handle.send("organization.command.update_task", {
                "task_id": top_task, "title": text, "status": "idle",
                "pr_state": "open", "updated_at": timezone.now().isoformat(),
            }, wait=True, timeout=30)
        else:
            handle.send("organization.command.record_sync", {
                "status": "running", "label": text, "finished": True,
            }, wait=True, timeout=30)
        seen_at = float(page.evaluate("window.benchWatch"))
        if seen_at < 0:
            raise RuntimeError(f"{text!r} did not reach the page of /o/{org}/ in 15 s")
        times.append(seen_at - started)
        time.sleep(0.2)  # let the page settle (a coalesced refresh) first
    return times, "task_summary" if rows else "sync_label"
