"""Foundry settings: everything from the environment, embedded defaults.

With nothing set, Foundry runs embedded: SQLite in ``FOUNDRY_DATA_DIR``, an
in-process Celery worker on the ``memory://`` broker, an in-memory channel
layer. The production shape sets ``DATABASE_URL`` (PostgreSQL),
``CELERY_BROKER_URL`` and ``REDIS_URL`` and runs ``celery worker`` and
``celery beat`` as separate processes.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from foundry.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_path,
    env_str,
    required_in_production,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("FOUNDRY_DATA_DIR", BASE_DIR / ".data")
PRODUCTION = env_bool("FOUNDRY_PRODUCTION", False)

SECRET_KEY = required_in_production(
    "DJANGO_SECRET_KEY", env_str("DJANGO_SECRET_KEY"), production=PRODUCTION
) or "embedded-development-key-not-for-production"
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_results",
    "social_django",
    "foundry",
    "foundry.actors",
    "audit_log",
    "orgs",
    "users",
    "tasks",
    "github_data",
    "sandboxes",
    "workbench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# People sign in with GitHub only; the model backend is for the admin's
# password login (the embedded default's `admin` account).
AUTHENTICATION_BACKENDS = [
    "users.github_auth.FoundryGitHubOAuth2",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "foundry.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "foundry.wsgi.application"
ASGI_APPLICATION = "foundry.asgi.application"

# --- Database -----------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'foundry.sqlite3'}"
# Persistent connections: a worker that reconnected per doorbell would pay
# a connection setup (~5 ms on PostgreSQL) per command.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("FOUNDRY_DB_CONN_MAX_AGE", 300),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Transactions begin at their first write, IMMEDIATE (foundry/sqlite):
    # a step that talks to GitHub before it writes does not hold SQLite's
    # single write lock meanwhile, and a write waits for the lock instead
    # of failing with "database is locked".
    DATABASES["default"]["ENGINE"] = "foundry.sqlite"
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_float("FOUNDRY_SQLITE_TIMEOUT", 30.0),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file database for tests too: worker processes must see the same data.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(DATABASES["default"]["NAME"]).with_name("test_foundry.sqlite3"))
    }
else:
    # A lease lives as long as its drain's database session (an advisory
    # lock, see foundry/actors/liveness.py). Server-side TCP keepalive ends
    # the session of a worker whose host vanished from the network within
    # about FOUNDRY_ACTOR_LEASE_SECONDS; a killed process ends it at once.
    _lease = max(3, int(env_float("FOUNDRY_ACTOR_LEASE_SECONDS", 30.0)))
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c tcp_keepalives_idle={max(1, _lease // 2)} "
        f"-c tcp_keepalives_interval={max(1, _lease // 6)} -c tcp_keepalives_count=3"
    )
if DATABASES["default"]["ENGINE"] != "foundry.sqlite" and env_bool(
    "FOUNDRY_DB_PREPARED_STATEMENTS", True
):
    # The command loop's own statements bind server-side and ask to be
    # prepared once per connection: planning them cost more than running
    # them. The ORM's queries bind client-side and are never prepared.
    # Django leaves this off for poolers: set the variable to 0 behind
    # PgBouncer in transaction mode older than 1.21.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, Channels --------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or (REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or (REDIS_URL or "django-db")
if not CELERY_BROKER_URL.startswith("memory://") and not REDIS_URL:
    # Refused here rather than by a system check: `celery worker`, `celery
    # beat` and uvicorn load settings but never run Django's checks. Without
    # Redis each process would keep its own doorbell counts (a sender's count
    # is never cleared by the worker's drain, so its next sends stay silent
    # and wait for the sweeper) and no waiting sender would be woken.
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL is a {CELERY_BROKER_URL.split(':', 1)[0]}:// broker but REDIS_URL "
        "is not set. The actor runtime counts doorbells and wakes waiting senders through "
        "Redis, shared by every process: set REDIS_URL (it may be the broker's own Redis, "
        "e.g. REDIS_URL=redis://127.0.0.1:6379/0), or unset CELERY_BROKER_URL to run the "
        "embedded in-process worker."
    )
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
if CELERY_BROKER_URL.startswith("memory://"):
    # The in-memory transport polls its queues; its 1 s default would add up
    # to a second to every command of the embedded run.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.01}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False  # durability lives in the mailbox table
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, and
            # channels-redis waits 5 s in BZPOPMIN for a consumer's next
            # message: an idle websocket's read timed out and the
            # consumer crashed. A read waits longer than Redis answers.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
else:
    # Channels' in-memory layer, made safe to send to from the worker's and
    # the stream consumer's threads (see foundry/live.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "foundry.live.InProcessChannelLayer"}}

# The cache holds the API's rate-limit counters: in Redis when there is one,
# so that every web process counts the same requests; keys carry the
# database's prefix, like the runtime's (foundry/cache.py).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_FUNCTION": "foundry.cache.make_key",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- The REST API ---------------------------------------------------------
# Requests per person or token ("N/s", "N/m", "N/h", "N/d"); beyond: 429
# with Retry-After.
FOUNDRY_API_RATE_LIMIT = env_str("FOUNDRY_API_RATE_LIMIT", "600/m")
# The longest ?wait=SECONDS a request may wait for a command to finish.
FOUNDRY_API_MAX_WAIT_SECONDS = env_float("FOUNDRY_API_MAX_WAIT_SECONDS", 30.0)

# --- The actor runtime --------------------------------------------------
# "inprocess": the web process runs a worker thread (embedded default);
# "external": separate `celery worker` processes do the work.
FOUNDRY_WORKER_MODE = env_str(
    "FOUNDRY_WORKER_MODE", "inprocess" if CELERY_BROKER_URL == "memory://" else "external"
)
FOUNDRY_ACTOR_LEASE_SECONDS = env_float("FOUNDRY_ACTOR_LEASE_SECONDS", 30.0)
FOUNDRY_ACTOR_SWEEP_SECONDS = env_float("FOUNDRY_ACTOR_SWEEP_SECONDS", 10.0)
FOUNDRY_ACTOR_MAX_ATTEMPTS = env_int("FOUNDRY_ACTOR_MAX_ATTEMPTS", 5)
# A drain hands its worker slot back after this long so that one busy
# instance cannot starve the others sharing a queue.
FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS = env_float("FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS", 0.5)
FOUNDRY_ACTOR_EXTRA_MODULES = env_list("FOUNDRY_ACTOR_EXTRA_MODULES", [])

# --- The rest -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # the embedded run serves admin assets without collectstatic
LOGIN_URL = "/signin/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("FOUNDRY_LOG_LEVEL", "INFO")},
    # httpx logs every request and Celery every task at INFO: a full sync
    # makes hundreds of each.
    "loggers": {
        name: {"level": "WARNING"}
        for name in (
            "django.db.backends", "httpx", "celery.worker.strategy", "celery.app.trace",
            "kombu.connection",
        )
    },
}

# Default wait of send(wait=True) without a timeout, and how often a waiter
# re-reads its command in case a notification was missed. Without Redis the
# notifier is process-local: a sender in another process than the embedded
# worker (a management command) learns of the outcome only by re-reading,
# so the embedded default re-reads often (a read by primary key).
FOUNDRY_ACTOR_WAIT_SECONDS = env_float("FOUNDRY_ACTOR_WAIT_SECONDS", 60.0)
FOUNDRY_ACTOR_WAIT_RECHECK_SECONDS = env_float(
    "FOUNDRY_ACTOR_WAIT_RECHECK_SECONDS", 2.0 if REDIS_URL else 0.25
)
# Embedded only: how often the worker process looks for commands that other
# processes sent (their doorbells cannot reach the in-memory broker).
FOUNDRY_ACTOR_EMBEDDED_WATCH_SECONDS = env_float("FOUNDRY_ACTOR_EMBEDDED_WATCH_SECONDS", 0.2)
# Worker processes renew their presence row this often; three missed
# renewals and a management command no longer counts on them.
FOUNDRY_WORKER_PRESENCE_SECONDS = env_float("FOUNDRY_WORKER_PRESENCE_SECONDS", 5.0)

# History retention (foundry/actors/retention.py): days a finished command
# and its steps are kept; failed ones longer, for the post-mortem.
FOUNDRY_HISTORY_DAYS = env_int("FOUNDRY_HISTORY_DAYS", 30)
FOUNDRY_HISTORY_FAILED_DAYS = env_int("FOUNDRY_HISTORY_FAILED_DAYS", 90)
FOUNDRY_HISTORY_PRUNE_SECONDS = env_float("FOUNDRY_HISTORY_PRUNE_SECONDS", 600.0)

CELERY_BEAT_SCHEDULE = {
    "foundry.actors.sweep": {
        "task": "foundry.actors.sweep",
        "schedule": FOUNDRY_ACTOR_SWEEP_SECONDS,
        "options": {"queue": "maintenance", "expires": FOUNDRY_ACTOR_SWEEP_SECONDS},
    },
    "foundry.actors.prune_history": {
        "task": "foundry.actors.prune_history",
        "schedule": FOUNDRY_HISTORY_PRUNE_SECONDS,
        "options": {"queue": "maintenance", "expires": FOUNDRY_HISTORY_PRUNE_SECONDS},
    },
}
CELERY_DB_REUSE_MAX = 1000  # the Django fixup otherwise reconnects before and after every task

# --- GitHub -------------------------------------------------------------
# The embedded run and the tests point these at the local GitHub emulator
# (`manage.py github_emulator`); production points them at github.com.
GITHUB_API_URL = env_str("GITHUB_API_URL", "http://127.0.0.1:8765")
GITHUB_APP_ID = env_str("GITHUB_APP_ID")
# The App's private key: the PEM itself, or a path to it.
GITHUB_APP_PRIVATE_KEY = env_str("GITHUB_APP_PRIVATE_KEY")
GITHUB_APP_PRIVATE_KEY_PATH = env_str("GITHUB_APP_PRIVATE_KEY_PATH")
GITHUB_WEBHOOK_SECRET = required_in_production(
    "GITHUB_WEBHOOK_SECRET", env_str("GITHUB_WEBHOOK_SECRET"), production=PRODUCTION
) or "emulator-webhook-secret"
# Fernet keys for people's GitHub tokens at rest; the first encrypts (see
# users/credentials.py for rotation). Empty: a key derived from SECRET_KEY.
FOUNDRY_TOKEN_KEYS = env_list("FOUNDRY_TOKEN_KEYS", [])
GITHUB_OAUTH_CLIENT_ID = env_str("GITHUB_OAUTH_CLIENT_ID")
GITHUB_OAUTH_CLIENT_SECRET = env_str("GITHUB_OAUTH_CLIENT_SECRET")
# Where browsers authorize the OAuth App: github.com beside api.github.com;
# the emulator serves both on one origin (the default for any other API URL).
GITHUB_OAUTH_URL = env_str(
    "GITHUB_OAUTH_URL",
    "https://github.com"
    if (GITHUB_API_URL or "").rstrip("/") == "https://api.github.com"
    else GITHUB_API_URL,
)
# Where a member installs the GitHub App (onboarding shows it); empty: the
# page says to ask GitHub's organization owner.
GITHUB_APP_INSTALL_URL = env_str("GITHUB_APP_INSTALL_URL", "")
# Set by run_embedded to its GitHub emulator: onboarding then shows how to
# "install" the App there (the emulator has no install page).
FOUNDRY_DEMO_EMULATOR_URL = ""
# GitHub logins made staff (the admin) at sign-in, comma-separated.
FOUNDRY_ADMIN_LOGINS = env_list("FOUNDRY_ADMIN_LOGINS", [])
# How long the sign-in callback waits for the user actor to record it.
FOUNDRY_SIGNIN_WAIT_SECONDS = env_float("FOUNDRY_SIGNIN_WAIT_SECONDS", 15.0)

# social-auth-app-django: the OAuth App identity, its scopes, the pipeline.
# Client id and secret are read per request (users/github_auth.py) so that
# the embedded run and the tests can point them at the emulator.
SOCIAL_AUTH_GITHUB_SCOPE = ["read:org", "repo"]
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/signin/"
SOCIAL_AUTH_RAISE_EXCEPTIONS = False
SOCIAL_AUTH_STRATEGY = "social_django.strategy.DjangoStrategy"
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "users.pipeline.username_is_login",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "users.pipeline.record_sign_in",
)
# Requests per page when walking lists, and how often a failed request is
# retried (5xx, rate limits) before the error reaches the caller.
GITHUB_PER_PAGE = env_int("GITHUB_PER_PAGE", 100)
GITHUB_MAX_RETRIES = env_int("GITHUB_MAX_RETRIES", 5)
GITHUB_MAX_RETRY_WAIT_SECONDS = env_float("GITHUB_MAX_RETRY_WAIT_SECONDS", 60.0)

# --- Sandboxes ------------------------------------------------------------
# Which provider runs an organization's sandboxes: FOUNDRY_SANDBOX_PROVIDER_BY_ORG
# ("acme=e2b,other=local") first, else FOUNDRY_SANDBOX_PROVIDER; by default
# e2b when an E2B key is configured, else local (the embedded default).
E2B_API_KEY = env_str("E2B_API_KEY")
FOUNDRY_SANDBOX_PROVIDER = env_str("FOUNDRY_SANDBOX_PROVIDER", "e2b" if E2B_API_KEY else "local")
FOUNDRY_SANDBOX_PROVIDER_BY_ORG = dict(
    item.split("=", 1) for item in env_list("FOUNDRY_SANDBOX_PROVIDER_BY_ORG", []) if "=" in item
)
FOUNDRY_E2B_TEMPLATE = env_str("FOUNDRY_E2B_TEMPLATE", "base")
# The e2b SDK's Sandbox class, by dotted path (the tests name a fake).
FOUNDRY_E2B_SDK = env_str("FOUNDRY_E2B_SDK", "e2b.Sandbox")
# Local provider: a directory per sandbox, and the sandbox-agent binary
# scripts/bootstrap fetched (npm @sandbox-agent/cli-linux-x64, pinned).
FOUNDRY_SANDBOX_DIR = env_path("FOUNDRY_SANDBOX_DIR", DATA_DIR / "sandboxes")
FOUNDRY_SANDBOX_AGENT_BIN = env_path(
    "FOUNDRY_SANDBOX_AGENT_BIN", BASE_DIR / ".cache" / "sandbox-agent-0.4.2" / "sandbox-agent"
)
# How long a new agent server may take to answer /v1/health.
FOUNDRY_SANDBOX_HEALTH_TIMEOUT_SECONDS = env_float("FOUNDRY_SANDBOX_HEALTH_TIMEOUT_SECONDS", 30.0)
# Beat: how often watched sandboxes and those with a running turn get their
# provider timeout extended (E2B's is 1 hour; ~2 minutes keeps a wide margin).
FOUNDRY_SANDBOX_KEEPALIVE_SECONDS = env_float("FOUNDRY_SANDBOX_KEEPALIVE_SECONDS", 120.0)
# A local sandbox nobody watched, with no turn running, for this long has its
# agent server stopped (the directory stays; the next use starts it again).
FOUNDRY_SANDBOX_LOCAL_IDLE_SECONDS = env_float("FOUNDRY_SANDBOX_LOCAL_IDLE_SECONDS", 1800.0)
CELERY_BEAT_SCHEDULE["sandboxes.keep_alive"] = {
    "task": "sandboxes.keep_alive",
    "schedule": FOUNDRY_SANDBOX_KEEPALIVE_SECONDS,
    "options": {"queue": "maintenance", "expires": FOUNDRY_SANDBOX_KEEPALIVE_SECONDS},
}
