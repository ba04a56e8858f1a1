"""The E2B provider, on the ``e2b`` SDK.

Sandboxes are created from ``FOUNDRY_E2B_TEMPLATE`` with a 1-hour timeout
and an idempotency key per (sandbox, generation), so a create step that
runs again after a crash gets the same sandbox, not a second one. The
repository lives at ``$HOME/repo``, ``$HOME`` asked of each sandbox (never
cached for the process). sandbox-agent (the pinned version, checked against
the pinned checksum) is installed inside and started in the background with
no command timeout (E2B ends commands after 60 s otherwise) and a token of
its own, since E2B's host URL is public; Foundry reaches it through
``get_host``.

The SDK's not-found errors (destroyed) and timeout errors (the sandbox
timed out or is not running: expired) are ``SandboxGone``, an expected
state.

The SDK is the one seam: ``E2BProvider(sdk=...)`` takes the ``Sandbox``
class (by default the one ``FOUNDRY_E2B_SDK`` names: ``e2b.Sandbox``, or
the tests' fake); everything else is the real code.
"""

from __future__ import annotations

import hashlib
import secrets
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.utils.module_loading import import_string
from e2b.exceptions import NotFoundException, TimeoutException

from sandboxes.agent_binary import SANDBOX_AGENT_VERSION
from sandboxes.agent_errors import AgentTransportError
from sandboxes.agent_http import SandboxAgentClient
from sandboxes.git_auth import git_auth_env
from sandboxes.providers.base import ProviderError, SandboxGone, SandboxPlace, SandboxSpec

T = TypeVar("T")

AGENT_PORT = 2468
TIMEOUT_SECONDS = 3600
# The npm tarball of sandbox-agent and its checksum, as scripts/bootstrap pins them.
AGENT_TARBALL = f"sandbox-agent-cli-linux-x64-{SANDBOX_AGENT_VERSION}.tgz"
AGENT_TARBALL_SHA256 = "47ce5b254a57bb6c023bb0b086ecbfb217811122c6cb4b0a870a697f04494320"
INSTALL_SCRIPT = f"""set -eu
dir="$HOME/.foundry/sandbox-agent-{SANDBOX_AGENT_VERSION}"
if [ ! -x "$dir/sandbox-agent" ]; then
  mkdir -p "$dir" && cd "$dir"
  npm pack --silent @sandbox-agent/cli-linux-x64@{SANDBOX_AGENT_VERSION} >/dev/null
  echo "{AGENT_TARBALL_SHA256}  {AGENT_TARBALL}" | sha256sum --check --quiet
  tar -xzf {AGENT_TARBALL} package/bin/sandbox-agent
  mv package/bin/sandbox-agent sandbox-agent && chmod +x sandbox-agent
fi
printf %s "$dir/sandbox-agent"
"""


def idempotency_key(spec: SandboxSpec) -> str:
    # E2B takes 1-255 lowercase letters, digits and hyphens.
    digest = hashlib.sha256(spec.name.encode()).hexdigest()[:40]
    return f"foundry-{digest}"


@contextmanager
def gone_when_not_found(place: SandboxPlace) -> Iterator[None]:
    """E2B no longer knows the sandbox (destroyed), or it timed out or is not
    running (expired): expected states, recorded and re-provisioned."""
    try:
        yield
    except NotFoundException as exc:
        raise SandboxGone(
            "destroyed", f"E2B sandbox {place.provider_sandbox_id}: {type(exc).__name__}: {exc}"
        ) from exc
    except TimeoutException as exc:
        raise SandboxGone(
            "expired", f"E2B sandbox {place.provider_sandbox_id}: {type(exc).__name__}: {exc}"
        ) from exc


class E2BProvider:
    name = "e2b"

    def __init__(self, sdk: Any = None, *, api_key: str | None = None,
                 template: str | None = None) -> None:
        # The SDK's Sandbox class; FOUNDRY_E2B_SDK names another (the tests'
        # fake) for worker processes.
        self.sdk = sdk if sdk is not None else import_string(str(settings.FOUNDRY_E2B_SDK))
        self.api_key = api_key if api_key is not None else settings.E2B_API_KEY
        self.template = template or settings.FOUNDRY_E2B_TEMPLATE
        if not self.api_key:
            raise ProviderError("E2B_API_KEY is not set: the e2b provider needs it")

    def _sandbox(self, place: SandboxPlace) -> Any:
        """The running sandbox (``connect`` resumes a paused one)."""
        return self.sdk.connect(
            place.provider_sandbox_id, timeout=TIMEOUT_SECONDS, api_key=self.api_key
        )

    def _run(self, sandbox: Any, command: str, **options: Any) -> Any:
        result = sandbox.commands.run(command, **options)
        if getattr(result, "exit_code", 0) not in (0, None):
            raise ProviderError(
                f"E2B sandbox {sandbox.sandbox_id}: {command.splitlines()[0]!r} exited "
                f"{result.exit_code}: {result.stderr.strip()[:500]}"
            )
        return result

    def _call(self, place: SandboxPlace, fn: Callable[[], T]) -> T:
        with gone_when_not_found(place):
            return fn()

    # -- provisioning -----------------------------------------------------------------

    def create(self, spec: SandboxSpec) -> SandboxPlace:
        sandbox = self.sdk.create(
            template=self.template,
            timeout=TIMEOUT_SECONDS,
            metadata={"foundry_org": spec.org, "foundry_sandbox": spec.sandbox_id,
                      "foundry_generation": str(spec.generation)},
            api_key=self.api_key,
            idempotency_key=idempotency_key(spec),
        )
        home = self._run(sandbox, 'printf %s "$HOME"').stdout.strip()
        if not home.startswith("/"):
            raise ProviderError(f"E2B sandbox {sandbox.sandbox_id} reported HOME={home!r}")
        return SandboxPlace(
            provider_sandbox_id=sandbox.sandbox_id, home_path=home, repo_path=f"{home}/repo",
            # Hex: a URL-safe token may begin with "-", which the server's
            # argument parser reads as a flag (seen: 1 provision in ~60 failed).
            agent_token=secrets.token_hex(24),
        )

    def clone(self, spec: SandboxSpec, place: SandboxPlace, *, token: str) -> SandboxPlace:
        repo, branch = shlex.quote(place.repo_path), shlex.quote(spec.branch)
        script = (
            f"set -eu\n"
            f"if [ \"$(git -C {repo} rev-parse --abbrev-ref HEAD 2>/dev/null)\" = {branch} ]; "
            f"then exit 0; fi\n"
            f"rm -rf {repo}\n"
            f"git clone --quiet --no-tags {shlex.quote(spec.clone_url)} {repo}\n"
            f"cd {repo}\n"
            f"if git rev-parse --verify --quiet origin/{branch} >/dev/null; "
            f"then git checkout --quiet -B {branch} origin/{branch}; "
            f"else git checkout --quiet -b {branch}; fi\n"
        )
        sandbox = self._call(place, lambda: self._sandbox(place))
        self._call(place, lambda: self._run(
            sandbox, script, envs=git_auth_env(spec.clone_url, token), timeout=600,
        ))
        return place

    def start_agent_server(self, spec: SandboxSpec, place: SandboxPlace) -> SandboxPlace:
        sandbox = self._call(place, lambda: self._sandbox(place))
        return self._start(sandbox, place, restarted=False)

    def _start(self, sandbox: Any, place: SandboxPlace, *, restarted: bool) -> SandboxPlace:
        binary = self._call(place, lambda: self._run(sandbox, INSTALL_SCRIPT, timeout=600))
        binary_path = binary.stdout.strip()
        # At most one server: one a crashed worker started is stopped first.
        self._call(place, lambda: sandbox.commands.run(
            "pkill -f 'sandbox-agent server' || true", timeout=30
        ))
        command = (
            f"cd {shlex.quote(place.repo_path)} && "
            f"SANDBOX_AGENT_ACP_REQUEST_TIMEOUT_MS=3600000 {shlex.quote(binary_path)} server "
            f"--token=\"$FOUNDRY_AGENT_TOKEN\" --no-telemetry --host 0.0.0.0 --port {AGENT_PORT}"
        )
        self._call(place, lambda: sandbox.commands.run(
            command, background=True, timeout=0,  # no command timeout: E2B's is 60 s
            envs={"FOUNDRY_AGENT_TOKEN": place.agent_token},
        ))
        host = sandbox.get_host(AGENT_PORT)
        # Like the SDK's own debug mode: a local host is plain HTTP.
        scheme = "http" if host.startswith(("localhost", "127.0.0.1")) else "https"
        url = f"{scheme}://{host}"
        with SandboxAgentClient(url, token=place.agent_token) as client:
            try:
                client.wait_healthy(timeout=settings.FOUNDRY_SANDBOX_HEALTH_TIMEOUT_SECONDS)
            except AgentTransportError as exc:
                raise ProviderError(
                    f"sandbox-agent in E2B sandbox {place.provider_sandbox_id} did not "
                    f"become healthy at {url}: {exc}"
                ) from exc
        return place.but(agent_url=url, restarted=restarted)

    # -- later uses -------------------------------------------------------------------

    def connect(self, spec: SandboxSpec, place: SandboxPlace) -> SandboxPlace:
        sandbox = self._call(place, lambda: self._sandbox(place))
        with SandboxAgentClient(place.agent_url, token=place.agent_token) as client:
            try:
                if client.health().get("status") == "ok":
                    return place.but(restarted=False)
            except AgentTransportError:
                pass  # not answering: started again below
        return self._start(sandbox, place, restarted=True)

    def probe(self, place: SandboxPlace) -> Literal["running", "paused", "stopped"]:
        info = self._call(place, lambda: self.sdk.get_info(
            place.provider_sandbox_id, api_key=self.api_key
        ))
        state = str(getattr(info, "state", "running")).rsplit(".", 1)[-1].lower()
        return "paused" if state == "paused" else "running"

    def keep_alive(self, place: SandboxPlace) -> None:
        self._call(place, lambda: self.sdk.set_timeout(
            place.provider_sandbox_id, TIMEOUT_SECONDS, api_key=self.api_key
        ))

    def pause(self, place: SandboxPlace) -> None:
        self._call(place, lambda: self.sdk.pause(place.provider_sandbox_id, api_key=self.api_key))

    def stop(self, place: SandboxPlace) -> None:
        self.pause(place)

    def destroy(self, place: SandboxPlace) -> None:
        try:
            self.sdk.kill(place.provider_sandbox_id, api_key=self.api_key)
        except (NotFoundException, TimeoutException):
            return  # gone already
