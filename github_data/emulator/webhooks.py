"""Signed webhook deliveries to Foundry, with history and redelivery."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .models import Event
from .payloads import account_of, build_payload

if TYPE_CHECKING:
    from .dataset import Dataset

log = logging.getLogger(__name__)


def signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    id: str
    event: str
    action: str | None
    url: str
    body: bytes
    signature: str
    status: int | None = None
    response_body: str = ""
    error: str | None = None
    duration: float = 0.0
    redelivery: bool = False

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "action": self.action,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "duration": round(self.duration, 4),
            "redelivery": self.redelivery,
        }


class WebhookSender:
    """Delivers events to one target URL, signed with the app's webhook secret.

    Deliveries are synchronous: a mutation returns after Foundry answered, which keeps
    tests deterministic. A failed connection is recorded on the delivery (status None,
    error set) and logged, so a mutation never fails because the receiver is down.
    """

    def __init__(
        self, dataset: Dataset, secret: str, url: str | None = None, timeout: float = 10.0
    ):
        self.dataset = dataset
        self.secret = secret
        self.url = url
        self.timeout = timeout
        self.base_url = ""
        self.auto = True
        self._lock = threading.Lock()
        self._history: list[Delivery] = []

    def configure(
        self, url: str | None = None, secret: str | None = None, auto: bool | None = None
    ) -> None:
        with self._lock:
            if url is not None:
                self.url = url or None
            if secret is not None:
                self.secret = secret
            if auto is not None:
                self.auto = auto

    def on_event(self, event: Event) -> None:
        """Dataset listener: deliver automatically when a target is configured."""
        if not self.auto or not self.url:
            return
        # The App hears an account's events through its installation there: none
        # where it is not installed or is suspended, except about the installation
        # itself. A user's fork belongs to the user: its own pushes reach the App
        # only through an installation on that personal account (what they do to
        # the parent's pull requests arrives as the organization's `pull_request`).
        if event.name != "installation":
            with self.dataset.lock:
                inst = self.dataset.installation_on(account_of(self.dataset, event))
                if inst is None or inst.suspended_at is not None:
                    return
        self.deliver_event(event)

    def deliver_event(self, event: Event, bad_signature: bool = False) -> Delivery:
        with self.dataset.lock:
            payload = build_payload(event, self.dataset, self.base_url)
        return self.send(event.name, payload, bad_signature=bad_signature)

    def send(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        bad_signature: bool = False,
        delivery_id: str | None = None,
        url: str | None = None,
    ) -> Delivery:
        target = url or self.url
        if not target:
            raise ValueError("no webhook URL configured")
        body = json.dumps(payload).encode()
        sig = signature("wrong-" + self.secret if bad_signature else self.secret, body)
        delivery = Delivery(
            id=delivery_id or str(uuid.uuid4()),
            event=event,
            action=payload.get("action"),
            url=target,
            body=body,
            signature=sig,
            redelivery=delivery_id is not None,
        )
        self._post(delivery)
        with self._lock:
            self._history.append(delivery)
        return delivery

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send a past delivery again: same body, same delivery id (as GitHub's redeliver)."""
        original = self.get(delivery_id)
        return self.send(
            original.event, original.payload, delivery_id=original.id, url=original.url
        )

    def get(self, delivery_id: str) -> Delivery:
        with self._lock:
            for delivery in reversed(self._history):
                if delivery.id == delivery_id:
                    return delivery
        raise KeyError(f"no delivery {delivery_id}")

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._history)

    def _post(self, delivery: Delivery) -> None:
        parts = urlsplit(delivery.url)
        conn_cls = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(parts.netloc, timeout=self.timeout)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/emulator",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.id,
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(self.dataset.app.id),
            "X-Hub-Signature-256": delivery.signature,
        }
        started = time.monotonic()
        try:
            conn.request("POST", path, body=delivery.body, headers=headers)
            response = conn.getresponse()
            delivery.status = response.status
            delivery.response_body = response.read(10_000).decode("utf-8", "replace")
        except OSError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "webhook %s %s to %s failed: %s", delivery.event, delivery.id, delivery.url, exc
            )
        finally:
            conn.close()
            delivery.duration = time.monotonic() - started
