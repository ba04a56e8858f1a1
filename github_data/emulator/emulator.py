"""`GitHubEmulator`: the dataset, the git repositories and the HTTP server, started together."""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any

from .auth import TokenStore, make_app_jwt
from .dataset import Dataset
from .faults import FaultInjector, RateLimiter, RequestCounter
from .generate import DatasetSpec
from .models import NotFound
from .server import EmulatorApp, EmulatorHTTPServer
from .state import EmulatorState, OAuthSettings
from .webhooks import WebhookSender

MARKER = ".github-emulator"


@dataclass(frozen=True)
class EmulatorConfig(DatasetSpec):
    """The dataset to serve (DatasetSpec's fields) and how to serve it."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: an ephemeral port, see GitHubEmulator.port
    data_dir: Path | None = None  # None: a temp dir, removed on stop()
    webhook_url: str | None = None
    webhook_secret: str = "emulator-webhook-secret"
    auto_webhooks: bool = True
    # Who `GET /login/oauth/authorize` signs in at once; None: a page asks (or a
    # `login=` hint, or `POST /_emulator/oauth`, says).
    oauth_user: str | None = None
    private_key_pem: str | None = None  # None: a fresh RSA key per start
    git_require_auth: bool = False
    installation_token_ttl: int = 3600
    rate_limit: int = 5000

    def spec(self) -> DatasetSpec:
        return DatasetSpec(**{f.name: getattr(self, f.name) for f in fields(DatasetSpec)})


class GitHubEmulator:
    """A local GitHub over real HTTP. `start()` returns once the server accepts requests."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._temp_dir: Path | None = None
        self.base_url = ""
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> GitHubEmulator:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        cfg = self.config
        self.data_dir = self._prepare_data_dir()
        self.dataset = Dataset(cfg.spec(), self.data_dir / "git", cfg.private_key_pem)
        if cfg.oauth_user is not None:
            self._check_oauth_user(cfg.oauth_user)  # now, rather than at the first sign-in
        self.tokens = TokenStore(cfg.installation_token_ttl)
        self.faults = FaultInjector()
        self.rate = RateLimiter(cfg.rate_limit)
        self.counter = RequestCounter()
        self.webhooks = WebhookSender(self.dataset, cfg.webhook_secret, cfg.webhook_url)
        self.webhooks.auto = cfg.auto_webhooks
        self.dataset.add_listener(self.webhooks.on_event)
        self.oauth = OAuthSettings(user=cfg.oauth_user)
        self.state = EmulatorState(
            self.dataset,
            self.tokens,
            self.faults,
            self.rate,
            self.counter,
            self.webhooks,
            self.oauth,
            cfg.git_require_auth,
        )
        self._server = EmulatorHTTPServer(
            cfg.host, cfg.port, EmulatorApp(self.state, self.app_info)
        )
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://{cfg.host}:{self.port}"
        self.webhooks.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"github-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server = self._thread = None
        self._remove_temp_dir()

    def _check_oauth_user(self, login: str) -> None:
        try:
            is_person = self.dataset.user(login).type == "User"
        except NotFound:
            is_person = False
        if not is_person:
            self._remove_temp_dir()
            raise ValueError(f"oauth_user {login!r} is not a person of the dataset")

    def _remove_temp_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir)
            self._temp_dir = None

    def serve_forever(self) -> None:
        """Block until interrupted (the management command's main loop)."""
        if self._thread is None:
            raise RuntimeError("start() the emulator first")
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _prepare_data_dir(self) -> Path:
        if self.config.data_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="github-emulator-"))
            return self._temp_dir
        data_dir = Path(self.config.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        git_dir = data_dir / "git"
        if git_dir.exists():
            # The dataset lives in memory, so repositories from a previous run would disagree
            # with it; only wipe a directory this emulator created.
            if not (data_dir / MARKER).exists():
                raise RuntimeError(
                    f"{git_dir} exists and was not made by the emulator; not wiping it"
                )
            shutil.rmtree(git_dir)
        (data_dir / MARKER).write_text("git repositories of the Foundry GitHub emulator\n")
        return data_dir

    # -- what clients need ----------------------------------------------------------------

    @property
    def org(self) -> str:
        """The first organization (the App's owner)."""
        return self.dataset.org.login

    @property
    def orgs(self) -> list[str]:
        """Every organization, the first one first."""
        with self.dataset.lock:
            return list(self.dataset.orgs)

    @property
    def app_id(self) -> int:
        return self.dataset.app.id

    @property
    def app_private_key_pem(self) -> str:
        return self.dataset.app.private_key_pem

    @property
    def installation_id(self) -> int | None:
        """The App's installation on the first organization."""
        return self.installation_id_for(self.org)

    def installation_id_for(self, account: str) -> int | None:
        """The App's installation on an organization or a personal account, if any."""
        inst = self.dataset.installation_on(account)
        return inst.id if inst else None

    def installation_ids(self) -> dict[str, int]:
        """Account login -> installation id, for every installation."""
        with self.dataset.lock:
            return {i.account: i.id for i in self.dataset.installations.values()}

    @property
    def oauth_client_id(self) -> str:
        return self.dataset.oauth_app.client_id

    @property
    def oauth_client_secret(self) -> str:
        return self.dataset.oauth_app.client_secret

    @property
    def webhook_secret(self) -> str:
        return self.webhooks.secret

    def app_info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "org": self.org,
            "app_id": self.app_id,
            "app_slug": self.dataset.app.slug,
            "app_client_id": self.dataset.app.client_id,
            "private_key_pem": self.app_private_key_pem,
            "installation_id": self.installation_id,
            "orgs": self.orgs,
            "installations": self.installation_ids(),
            "oauth_client_id": self.oauth_client_id,
            "oauth_client_secret": self.oauth_client_secret,
            "oauth_authorize_url": f"{self.base_url}/login/oauth/authorize",
            "oauth_token_url": f"{self.base_url}/login/oauth/access_token",
            "webhook_secret": self.webhook_secret,
            "webhook_url": self.webhooks.url,
            "git_base_url": f"{self.base_url}/{self.org}/",
        }

    def write_private_key(self, path: Path | None = None) -> Path:
        target = path or self.data_dir / "app-private-key.pem"
        target.write_text(self.app_private_key_pem)
        target.chmod(0o600)
        return target

    def app_jwt(self, lifetime: int = 540, issued_ago: int = 60) -> str:
        return make_app_jwt(self.dataset.app, lifetime, issued_ago)

    def installation_token(self, account: str | None = None) -> str:
        """A fresh installation token without the JWT round trip (for tests), for the
        installation on `account` (default: the first organization)."""
        account = account or self.org
        ident = self.installation_id_for(account)
        if ident is None:
            raise RuntimeError(f"the app is not installed on {account}")
        return self.tokens.issue_installation_token(ident).value

    def user_token(self, login: str, scope: str = "read:org repo") -> str:
        return self.tokens.issue_user_token(self.dataset.user(login).login, scope).value

    def git_url(self, repo: str, token: str | None = None) -> str:
        """`repo`: a name of the first organization, or `owner/name`."""
        auth = f"x-access-token:{token}@" if token else ""
        full_name = repo if "/" in repo else f"{self.org}/{repo}"
        return f"http://{auth}{self.config.host}:{self.port}/{full_name}.git"

    def request_counts(self) -> dict[str, int]:
        return self.counter.snapshot()

    def reset_counters(self) -> None:
        self.counter.reset()
        self.rate.reset()
