"""Sandbox providers behind one small interface (``base.Provider``):
``local`` (the embedded default) and ``e2b``.

Which one an organization uses: ``FOUNDRY_SANDBOX_PROVIDER_BY_ORG``
(``org=provider,…``), else ``FOUNDRY_SANDBOX_PROVIDER`` (``e2b`` when
``E2B_API_KEY`` is set, else ``local``).
"""

from __future__ import annotations

from django.conf import settings

from sandboxes.providers.base import (
    Provider,
    ProviderError,
    SandboxGone,
    SandboxPlace,
    SandboxSpec,
)


def _local() -> Provider:
    from sandboxes.providers.local import LocalProvider

    return LocalProvider()


def _e2b() -> Provider:
    from sandboxes.providers.e2b import E2BProvider

    return E2BProvider()


def provider_name_for(org: str) -> str:
    return str(settings.FOUNDRY_SANDBOX_PROVIDER_BY_ORG.get(org, settings.FOUNDRY_SANDBOX_PROVIDER))


def get_provider(name: str) -> Provider:
    factory = {"local": _local, "e2b": _e2b}.get(name)
    if factory is None:
        raise ProviderError(f"unknown sandbox provider {name!r} (known: local, e2b)")
    return factory()


__all__ = [
    "Provider", "ProviderError", "SandboxGone", "SandboxPlace", "SandboxSpec",
    "get_provider", "provider_name_for",
]
