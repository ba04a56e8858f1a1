"""A local GitHub for Foundry's development and tests: REST API, OAuth, git over HTTP, webhooks.

Standalone (no Django imports):

    with GitHubEmulator(EmulatorConfig(repos=3)).start() as gh:
        gh.base_url, gh.app_id, gh.app_private_key_pem, gh.installation_id

    with GitHubEmulator(EmulatorConfig(**DEMO_ORGS)) as gh:  # acme, initech, globex
        gh.installation_id_for("initech"), gh.user_token("bob")

`python manage.py github_emulator` runs it as a server.
"""

from .auth import make_app_jwt, verify_app_jwt
from .dataset import Dataset
from .emulator import EmulatorConfig, GitHubEmulator
from .faults import FaultInjector
from .generate import DatasetSpec
from .models import EmulatorError, Event, NotFound, ValidationFailed
from .people import DEMO_ORGS, Person, demo_people
from .webhooks import Delivery, WebhookSender, signature

__all__ = [
    "DEMO_ORGS",
    "Dataset",
    "DatasetSpec",
    "Delivery",
    "EmulatorConfig",
    "EmulatorError",
    "Event",
    "FaultInjector",
    "GitHubEmulator",
    "NotFound",
    "Person",
    "ValidationFailed",
    "WebhookSender",
    "demo_people",
    "make_app_jwt",
    "signature",
    "verify_app_jwt",
]
