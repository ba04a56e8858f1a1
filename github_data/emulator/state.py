"""Everything a request handler may touch, in one place."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .auth import TokenStore
from .dataset import Dataset
from .faults import FaultInjector, RateLimiter, RequestCounter
from .webhooks import WebhookSender


@dataclass
class OAuthSettings:
    """Who `GET /login/oauth/authorize` signs in, or whether it refuses (access_denied)."""

    user: str | None = None
    deny: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, user: str | None = None, deny: bool | None = None) -> None:
        with self._lock:
            if user is not None:
                self.user = user
            if deny is not None:
                self.deny = deny


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
