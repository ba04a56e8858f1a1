"""An httpx transport that counts every request it sends.

Counting at the transport (below githubkit's retry loop and below httpx's auth flow) sees
everything that goes over the wire: token requests, every page, every retry. The sync
reports this number, and the benchmark compares it with the emulator's own counters.
"""

from __future__ import annotations

import threading

import httpx


class CountingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Counted before sending: a request that failed to connect was still attempted.
        with self._lock:
            self._count += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
