"""Everything a request handler may touch, in one place."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .auth import TokenStore
from .dataset import Dataset
from .faults import FaultInjector, RateLimiter, RequestCounter
from .webhooks import WebhookSender


@dataclass
class OAuthSettings:
    """What `GET /login/oauth/authorize` does at once: sign `user` in, or refuse
    (`deny`: access_denied). Neither set: it shows the page where a person picks an
    account and approves or denies."""

    user: str | None = None
    deny: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, data: Mapping[str, Any]) -> None:
        """`POST /_emulator/oauth`: each key given is set, `"user": null` included."""
        with self._lock:
            if "user" in data:
                self.user = data["user"] or None
            if "deny" in data:
                self.deny = bool(data["deny"])

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"user": self.user, "deny": self.deny}


@dataclass
class EmulatorState:
    dataset: Dataset
    tokens: TokenStore
    faults: FaultInjector
    rate: RateLimiter
    counter: RequestCounter
    webhooks: WebhookSender
    oauth: OAuthSettings
    git_require_auth: bool = False
