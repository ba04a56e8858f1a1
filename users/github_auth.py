"""Sign in with GitHub: social-auth's GitHub backend, pointed by settings.

The OAuth App identity (``GITHUB_OAUTH_CLIENT_ID`` / ``_SECRET``) and its
hosts come from settings read per request: ``GITHUB_OAUTH_URL`` for the
browser's authorize page and the code exchange, ``GITHUB_API_URL`` for the
API. In production those are github.com and api.github.com; in the embedded
run and the tests, one local emulator serves both.

The token never lands in social-auth's ``extra_data`` (clear text there):
the pipeline stores it encrypted (``users.credentials``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from social_core.backends.github import GithubOAuth2


class FoundryGitHubOAuth2(GithubOAuth2):  # type: ignore[type-arg]  # generic in stubs only
    name = "github"
    # Scopes: read:org to list the person's organizations (and private
    # memberships), repo for git push and pull requests done as them.
    DEFAULT_SCOPE = ["read:org", "repo"]
    EXTRA_DATA = [("id", "id"), ("login", "login")]  # never the token

    def authorization_url(self) -> str:
        return f"{_oauth_origin()}/login/oauth/authorize"

    def access_token_url(self) -> str:
        return f"{_oauth_origin()}/login/oauth/access_token"

    def api_url(self) -> str:
        return f"{str(settings.GITHUB_API_URL).rstrip('/')}/"

    def get_key_and_secret(self) -> tuple[str, str]:
        return (
            str(settings.GITHUB_OAUTH_CLIENT_ID or ""),
            str(settings.GITHUB_OAUTH_CLIENT_SECRET or ""),
        )

    def extra_data(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        data = super().extra_data(*args, **kwargs)
        for secret in ("access_token", "refresh_token", "token_type"):
            data.pop(secret, None)
        return data


def _oauth_origin() -> str:
    return str(settings.GITHUB_OAUTH_URL or settings.GITHUB_API_URL).rstrip("/")
