"""Settings are checked at start, in real processes: a shared broker without
REDIS_URL is refused by every process (management commands and `celery
worker` alike); `manage.py check` refuses values the runtime cannot use and
`manage.py check --deploy` knows the runtime's production concerns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def run(args: list[str], tmp_path: Path, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Run with the suite's environment, changed by ``env`` (None unsets)."""
    child = {**os.environ, "FOUNDRY_DATA_DIR": str(tmp_path)}
    for name, value in env.items():
        if value is None:
            child.pop(name, None)
        else:
            child[name] = value
    return subprocess.run(args, cwd=settings.BASE_DIR, env=child, capture_output=True,
                          text=True, timeout=120)


def manage(*args: str, tmp_path: Path, **env: str | None) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "manage.py", *args], tmp_path, **env)


def test_a_shared_broker_without_redis_url_is_refused_everywhere(tmp_path: Path) -> None:
    """CELERY_BROKER_URL=redis://… without REDIS_URL stops `manage.py check`
    and `celery worker` at start with a message that says what to set, and
    does not leak the broker's credentials."""
    broken = {"CELERY_BROKER_URL": "redis://:secret@127.0.0.1:6379/9", "REDIS_URL": None,
              "CELERY_RESULT_BACKEND": None}
    check = manage("check", tmp_path=tmp_path, **broken)
    worker = run([sys.executable, "-m", "celery", "-A", "foundry", "worker", "-P", "solo",
                  "-Q", "maintenance"], tmp_path, **broken)
    for done in (check, worker):
        output = done.stdout + done.stderr
        assert done.returncode != 0, output
        assert "REDIS_URL is not set" in output
        assert "set REDIS_URL" in output and "unset CELERY_BROKER_URL" in output
        assert "secret" not in output


def test_check_refuses_values_the_runtime_cannot_use(tmp_path: Path) -> None:
    """Zero attempts, a non-positive lease and an unknown worker mode fail
    `manage.py check`, each naming its variable."""
    done = manage("check", tmp_path=tmp_path, FOUNDRY_ACTOR_MAX_ATTEMPTS="0",
                  FOUNDRY_ACTOR_LEASE_SECONDS="0", FOUNDRY_WORKER_MODE="threads")
    assert done.returncode != 0
    assert "FOUNDRY_ACTOR_MAX_ATTEMPTS is 0; it must be >= 1" in done.stderr
    assert "FOUNDRY_ACTOR_LEASE_SECONDS is 0.0; it must be > 0" in done.stderr
    assert "(foundry.actors.E002) FOUNDRY_WORKER_MODE is 'threads'" in done.stderr


def test_check_deploy_refuses_the_embedded_broker(tmp_path: Path) -> None:
    """The embedded default passes `check` but `check --deploy` names the
    memory:// broker as an error with the settings to set."""
    embedded = {"CELERY_BROKER_URL": None, "REDIS_URL": None, "CELERY_RESULT_BACKEND": None,
                "DATABASE_URL": None}
    plain = manage("check", tmp_path=tmp_path, **embedded)
    assert plain.returncode == 0, plain.stderr
    deploy = manage("check", "--deploy", tmp_path=tmp_path, **embedded)
    assert deploy.returncode != 0
    assert "(foundry.actors.E003) CELERY_BROKER_URL is memory://" in deploy.stderr
    assert "Set CELERY_BROKER_URL and REDIS_URL" in deploy.stderr


def test_check_deploy_warns_of_short_leases_and_slow_sweeps(tmp_path: Path) -> None:
    """With a shared broker, `check --deploy` passes the broker and warns of a
    lease shorter than 10 s and of a sweep period longer than the lease;
    failed commands kept shorter than the others warn in any check; on
    PostgreSQL it notes the prepared statements (PgBouncer)."""
    production = {"CELERY_BROKER_URL": REDIS, "REDIS_URL": REDIS,
                  "FOUNDRY_ACTOR_LEASE_SECONDS": "5", "FOUNDRY_ACTOR_SWEEP_SECONDS": "8",
                  "FOUNDRY_HISTORY_FAILED_DAYS": "7"}
    done = manage("check", "--deploy", tmp_path=tmp_path, **production)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output  # warnings only
    assert "foundry.actors.E003" not in output
    assert "(foundry.actors.W002) FOUNDRY_ACTOR_LEASE_SECONDS is 5" in output
    assert "(foundry.actors.W003) FOUNDRY_ACTOR_SWEEP_SECONDS (8) is longer" in output
    assert "(foundry.actors.W001) FOUNDRY_HISTORY_FAILED_DAYS (7)" in output
    on_postgresql = os.environ.get("DATABASE_URL", "").startswith("postgres")
    assert ("(foundry.actors.I001)" in output) == on_postgresql  # PgBouncer note
    plain = manage("check", tmp_path=tmp_path, **production)
    assert "W002" not in plain.stdout + plain.stderr  # deploy-only
