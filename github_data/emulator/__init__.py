"""A local GitHub for Foundry's development and tests: REST API, OAuth, git over HTTP, webhooks.

Standalone (no Django imports):

    with GitHubEmulator(EmulatorConfig(repos=3)).start() as gh:
        gh.base_url, gh.app_id, gh.app_private_key_pem, gh.installation_id

`python manage.py github_emulator` runs it as a server.
"""

from .auth import make_app_jwt, verify_app_jwt
from .dataset import Dataset
from .emulator import EmulatorConfig, GitHubEmulator
from .faults import FaultInjector
from .generate import DatasetSpec
from .models import EmulatorError, Event, NotFound, ValidationFailed
from .webhooks import Delivery, WebhookSender, signature

__all__ = [
    "Dataset",
    "DatasetSpec",
    "Delivery",
    "EmulatorConfig",
    "EmulatorError",
    "Event",
    "FaultInjector",
    "GitHubEmulator",
    "NotFound",
    "ValidationFailed",
    "WebhookSender",
    "make_app_jwt",
    "signature",
    "verify_app_jwt",
]
