"""Settings for the K5 volume-to-image portal, read from the environment.

Defaults suit a laptop: SQLite file, django-q2's ORM broker and the local K5 simulator.
Setting DATABASE_URL (PostgreSQL) and REDIS_URL switches to the distributed set-up (many web
and worker hosts) without a code change; PORTAL_PRODUCTION=true turns on the production
safeguards. Every variable is listed in README.md.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_duration,
    env_float,
    env_float_renamed,
    env_int,
    env_list,
    env_pairs,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

PRODUCTION = env_bool("PORTAL_PRODUCTION", False)
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    # Debug pages show settings and tracebacks to whoever causes an error.
    raise ImproperlyConfigured(
        "DJANGO_DEBUG=true is refused in production (PORTAL_PRODUCTION=true): unset DJANGO_DEBUG"
    )

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET_KEY)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set in production")
if PRODUCTION and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is the development key; set a real one in production")
# Earlier keys still accepted for signed data (sessions, password-reset links) while a new
# SECRET_KEY takes over; drop them once the sessions they signed have expired.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "imaging",
    "portal",  # after axes: its sign-in log lines read what axes decided (portal/signin.py)
]

MIDDLEWARE = [
    # First: the request id tags every line logged while the request is served.
    "portal.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response below it (CONTENT_SECURITY_POLICY).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Under /api/: a body over DATA_UPLOAD_MAX_MEMORY_SIZE or JSON nested too deeply is a JSON
    # 413/400, not Django's HTML 400 or a 500.
    "imaging.api.middleware.ApiBadInputMiddleware",
    # Pages: Redis (cache, broker) unreachable is a 503 page with Retry-After, not a 500.
    "portal.outage.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads the body: a page sent more than DATA_UPLOAD_MAX_MEMORY_SIZE gets a
    # 413 page naming the limit.
    "portal.limits.RequestBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in person's saved time zone, and language unless the browser chose one.
    "imaging.preferences.PreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a locked-out sign-in into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "imaging.context_processors.vocabulary",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "")
if not DATABASE_URL:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
if DATABASE_URL.split(":", 1)[0] not in ("sqlite", "postgres", "postgresql", "pgsql"):
    raise ImproperlyConfigured(
        f"DATABASE_URL must be a sqlite:// or postgres:// URL, not {DATABASE_URL.split(':')[0]!r}"
    )
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
# SQLite: how long a write waits for another's lock before the request is answered 503 (a
# page: "busy, try again"); below gunicorn's timeout, so that the wait is never a killed worker.
SQLITE_BUSY_TIMEOUT = env_float("SQLITE_BUSY_TIMEOUT", 10.0, minimum=0.1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the qcluster write to the same file: WAL lets readers go on while one
    # writes, IMMEDIATE transactions take the write lock up front (no upgrade deadlocks), and a
    # busy timeout makes a writer wait instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": SQLITE_BUSY_TIMEOUT,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: end-to-end tests run real qcluster processes against the test
    # database (they are handed its path). One per test run, so parallel runs don't collide.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("TEST_SQLITE_PATH", str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3"))
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Job queue (django-q2) ------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
Q_CLUSTER: dict[str, Any] = {
    "name": env_str("Q_CLUSTER_NAME", "portal"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    # Engine tasks are single short steps (no task waits on K5), so a task that runs for
    # minutes is stuck. `retry` must exceed `timeout`, or the ORM broker hands a running task
    # out a second time.
    "timeout": env_int("Q_TIMEOUT", 120, minimum=1),
    "retry": env_int("Q_RETRY", 180, minimum=2),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3, minimum=1),
    # Successful results kept (the oldest is dropped as a new one is saved); failures are kept
    # until `manage.py prune`. 0 would mean "keep every success", so it is refused; -1 keeps none.
    "save_limit": env_int("Q_SAVE_LIMIT", 1000, minimum=-1),
    "catch_up": False,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env_float("Q_ORM_POLL", 1.0, minimum=0.05)
if Q_CLUSTER["save_limit"] == 0:
    raise ImproperlyConfigured("Q_SAVE_LIMIT=0 would keep every task result; use -1 or more than 0")
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured(
        "Q_RETRY must be larger than Q_TIMEOUT (django-q2 would run tasks twice)"
    )

# Shared between web and worker hosts when Redis is there (throttling, K5 list cache).
REDIS_CACHE_URL = env_url("REDIS_CACHE_URL", REDIS_URL, schemes=("redis", "rediss", "unix"))
if REDIS_CACHE_URL:
    CACHES: dict[str, dict[str, object]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "KEY_PREFIX": "k5portal",
        }
    }
else:
    # Without Redis, the database: every gunicorn worker and qcluster process sees the same
    # throttle counts, token lockouts and K5 lists (a memory cache would give each process its
    # own). `migrate` creates the table (portal/apps.py); so does `manage.py createcachetable`.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
            "KEY_PREFIX": "k5portal",
            # Room for every counter and list; past it Django drops a third of the entries.
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }

# --- K5 -------------------------------------------------------------------------------------
# Where the demo project points; on a laptop that is the bundled simulator (`python -m k5sim`).
K5_DEMO_AUTH_URL = env_url(
    "K5_DEMO_AUTH_URL", "http://127.0.0.1:8774/identity/v3", schemes=("http", "https")
)
K5_CONNECT_TIMEOUT = env_float("K5_CONNECT_TIMEOUT", 5.0, minimum=0.1)
K5_READ_TIMEOUT = env_float("K5_READ_TIMEOUT", 30.0, minimum=0.1)
# How long a project's volume list (with servers) is reused by pages and the API.
K5_INVENTORY_CACHE_SECONDS = env_int("K5_INVENTORY_CACHE_SECONDS", 60, minimum=0)
# At most one K5 volume listing per project this often, whoever asks (members share one K5
# user per project).
K5_INVENTORY_MIN_SECONDS = env_int("K5_INVENTORY_MIN_SECONDS", 15, minimum=0)
# The longest a web request waits on K5 in all (submission checks; a first volume list).
K5_REQUEST_BUDGET_SECONDS = env_float("K5_REQUEST_BUDGET_SECONDS", 10.0, minimum=0.5)
if int(K5_REQUEST_BUDGET_SECONDS) + 20 <= SQLITE_BUSY_TIMEOUT:
    raise ImproperlyConfigured(
        f"SQLITE_BUSY_TIMEOUT={SQLITE_BUSY_TIMEOUT:g} must stay below gunicorn's timeout "
        f"(K5_REQUEST_BUDGET_SECONDS + 20 = {int(K5_REQUEST_BUDGET_SECONDS) + 20} s)"
    )


def _credential_keys() -> list[str]:
    """Fernet keys for K5 service passwords at rest: the first encrypts, all decrypt (rotation)."""
    keys = env_list("K5_CREDENTIAL_KEYS", [])
    if keys:
        return keys
    if PRODUCTION:
        raise ImproperlyConfigured("K5_CREDENTIAL_KEYS must be set in production")
    digest = hashlib.sha256(f"k5-credentials:{SECRET_KEY}".encode()).digest()
    return [base64.urlsafe_b64encode(digest).decode()]


K5_CREDENTIAL_KEYS = _credential_keys()

# --- Signing in with a K5 account or the company's single sign-on (imaging/signin/) ---------
PORTAL_ROLES = ("viewer", "member", "admin")  # imaging.models.Role's values


def _role_map(name: str) -> dict[str, str]:
    """K5_ROLE_MAP=admin=admin,_member_=member,reader=viewer: K5 role -> portal role."""
    roles = {}
    for k5_role, role in env_pairs(name):
        if role not in PORTAL_ROLES:
            raise ImproperlyConfigured(
                f"{name}: {k5_role}={role} maps to no portal role "
                f"(one of {', '.join(PORTAL_ROLES)})"
            )
        roles[k5_role] = role
    return roles


def _group_map(name: str) -> dict[str, list[tuple[str, str]]]:
    """OIDC_GROUP_MAP=ops=demo-project-1:admin,dev=demo-project-1:member: group -> (project
    name, portal role) pairs; a group may give several projects."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for group, target in env_pairs(name):
        project, _, role = target.rpartition(":")
        if not project or role not in PORTAL_ROLES:
            raise ImproperlyConfigured(
                f"{name}: {group}={target} must be group=project:role, the role one of "
                f"{', '.join(PORTAL_ROLES)}"
            )
        groups.setdefault(group, []).append((project, role))
    return groups


# K5 accounts: a person signs in as to K5 (contract, user name, password); their memberships
# come from their K5 roles, through K5_ROLE_MAP only (no guess at K5's role names).
K5_LOGIN = env_bool("K5_LOGIN", False)
K5_ROLE_MAP = _role_map("K5_ROLE_MAP")
# A membership from a sign-in stops granting access this long after the sign-in that gave it.
K5_LOGIN_MAX_AGE = env_duration("K5_LOGIN_MAX_AGE", timedelta(hours=12), minimum=timedelta(0))
# K5 locks a user after 5 wrong passwords in 15 minutes: the portal stops asking K5 for a
# user after fewer failures than that in the same window, whoever and wherever from.
K5_LOGIN_GUARD_FAILURES = env_int("K5_LOGIN_GUARD_FAILURES", 3, minimum=1)
if K5_LOGIN_GUARD_FAILURES > 4:
    raise ImproperlyConfigured(
        "K5_LOGIN_GUARD_FAILURES must stay below K5's 5 wrong passwords (at most 4)"
    )
K5_LOGIN_GUARD_WINDOW = timedelta(minutes=15)

# Company single sign-on (OpenID Connect, mozilla-django-oidc): on when OIDC_ISSUER is set.
OIDC_ISSUER = env_url("OIDC_ISSUER", "", schemes=("https", "http")).rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
if OIDC_ISSUER and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured(
        "OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be too"
    )
OIDC_GROUP_CLAIM = env_str("OIDC_GROUP_CLAIM", "groups")
OIDC_GROUP_MAP = _group_map("OIDC_GROUP_MAP")
OIDC_LOGIN_MAX_AGE = env_duration("OIDC_LOGIN_MAX_AGE", K5_LOGIN_MAX_AGE, minimum=timedelta(0))
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT", 10.0, minimum=0.1)
OIDC_AUTHENTICATE_CLASS = "imaging.signin.oidc.StartSignIn"
OIDC_CALLBACK_CLASS = "imaging.signin.oidc.FinishSignIn"
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/"

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves collected files (manage.py collectstatic) through WhiteNoise; on a laptop
# WhiteNoise serves straight from the app and project static folders.
STATIC_ROOT = env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles") if PRODUCTION else "") or None
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION
# What one request may send (portal/limits.py): a body over DATA_UPLOAD_MAX_MEMORY_SIZE is
# refused before it is read, pages and API alike. Nothing in the portal takes a file, so a
# file part is refused whatever its size; the forms have a dozen fields, the admin's bulk
# actions a few hundred.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=65_536)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
DATA_UPLOAD_MAX_NUMBER_FILES = 0
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# How long a session from the portal's own sign-in form lasts (Django's default is two weeks:
# too long for a forgotten browser). K5 and single sign-on sessions end with their max age.
SESSION_COOKIE_AGE = int(
    env_duration(
        "SESSION_COOKIE_AGE", timedelta(hours=12), minimum=timedelta(minutes=5)
    ).total_seconds()
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts, styles, images and fetches from the portal
# itself only — no inline <script>, no onclick=, no style="" — so text an attacker got into a
# page (an image name, K5's message) cannot run there. Pages keep their scripts in static/js/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}


def _request_header(variable: str, name: str) -> str:
    """A request header as Django's request.META names it: X-Forwarded-Proto and
    HTTP_X_FORWARDED_PROTO both give HTTP_X_FORWARDED_PROTO."""
    key = name.strip().upper().replace("-", "_")
    if not re.fullmatch(r"[A-Z0-9_]+", key):
        raise ImproperlyConfigured(f"{variable}={name!r} is not a request header name")
    return key if key.startswith("HTTP_") else f"HTTP_{key}"


def _proxy_ssl_header() -> tuple[str, str] | None:
    value = env_str("SECURE_PROXY_SSL_HEADER", "")
    if not value:
        return None
    header, _, secure_value = (part.strip() for part in value.partition(","))
    if not header or not secure_value:
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER={value!r} must be HEADER,VALUE, "
            "e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    return _request_header("SECURE_PROXY_SSL_HEADER", header), secure_value


# HTTPS in production: plain HTTP is redirected (except the load balancers' probes), and
# browsers are told to use HTTPS only, for a year by default (HSTS). Behind a proxy that ends
# TLS, SECURE_PROXY_SSL_HEADER names the header it sets on HTTPS requests; only that proxy must
# be able to reach the portal, or a client could set the header itself.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Only the probes: /metrics carries its bearer token, which must not travel in clear (scrape it
# through the proxy, over HTTPS).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)

# --- Sign-in protection (django-axes; portal/signin.py) ----------------------------------------
# A user name, or an address, with AXES_FAILURE_LIMIT failed sign-ins within the cool-off is
# locked for the cool-off (portal and admin forms; API tokens per address). The cool-off counts
# from the last failure; attempts while locked are refused without extending it.
AUTHENTICATION_BACKENDS = [
    "portal.signin.SignInBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Each answers only its own credentials (the K5 sign-in form; the single sign-on callback)
    # and only when switched on (K5_LOGIN, OIDC_ISSUER). Axes counts their failures as any
    # other's; the K5 sign-in's own guard (imaging/signin/guard.py) is separate and stricter.
    "imaging.signin.backends.K5AccountBackend",
    "imaging.signin.oidc.SingleSignOnBackend",
]
# A K5 sign-in is counted under the portal user name it would have: contract/user.
AXES_USERNAME_CALLABLE = "imaging.signin.backends.axes_username"
# Axes keeps the form's fields with each attempt: the K5 form's password must be masked too
# (its own `password` field is always masked).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "k5-password"]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each alone: per user, per address
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Not reset by a success: it would wipe the address's count too, and anyone with one account
# could then go on guessing other users' passwords from that address.
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure kept for operators (admin)
AXES_CLIENT_IP_CALLABLE = "portal.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "portal.signin.locked_out"
# Behind a proxy: the request header it puts the client's address in (X-Forwarded-For,
# X-Real-IP). Unset, the connection's address is the client's; set, only when the proxy always
# sets the header and nothing else can reach the portal, or clients choose their address.
CLIENT_ADDRESS_HEADER = (
    _request_header("CLIENT_ADDRESS_HEADER", env_str("CLIENT_ADDRESS_HEADER"))
    if env_str("CLIENT_ADDRESS_HEADER")
    else ""
)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "k5-portal@localhost")

# One line per event on stderr (portal/logs.py): JSON for a log collector, text for people.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not one of: text, json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "portal.logs.ContextFilter"}},
    "formatters": {
        "text": {"()": "portal.logs.TextFormatter"},
        "json": {"()": "portal.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # SQL with its parameters (session keys among them) stays out even at LOG_LEVEL=DEBUG;
    # so do the full URLs urllib3 logs per request (a webhook's path is often its secret).
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "urllib3.connectionpool": {"level": "INFO"},
    },
}

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "imaging.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["imaging.api.auth.PerTokenThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": env_str("API_THROTTLE_RATE", "600/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "imaging.api.errors.handle",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "imaging.api.renderers.BrowsableAPIRenderer",  # relaxes the CSP for inline styles
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "K5 image portal API",
    "DESCRIPTION": "Create images from K5 volumes and follow them until they are usable in "
    'every availability zone. Errors: {"error": {"code", "message", '
    '"fields"}}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # A job's, a step's and a batch's `state` are different sets: each its own stable name.
    "ENUM_NAME_OVERRIDES": {
        "StateEnum": "imaging.models.jobs.JobState",
        "StepStateEnum": "imaging.models.StepState",
        "StepNameEnum": "imaging.models.StepName",
        "BatchStateEnum": "imaging.models.batches.BatchState",
    },
}

# --- Job engine -----------------------------------------------------------------------------
# Seconds between engine ticks (each tick: start due uploads, poll every project with active
# jobs in 2 K5 calls, move jobs on). Completion is seen within about one interval.
ENGINE_TICK_SECONDS = env_float("ENGINE_TICK_SECONDS", 10.0, minimum=0.1)
# After the image is active, how long to watch for sync_status_reason before calling every
# availability zone synced (K5 registers the image to the other zones after it is active, and
# copying a bigger image takes longer): base + per GB of the image. A project may override
# either (K5Project.sync_settle_*). ENGINE_SYNC_SETTLE_SECONDS, the flat window of earlier
# releases, is still read as the base.
ENGINE_SYNC_SETTLE_BASE_SECONDS = env_float_renamed(
    "ENGINE_SYNC_SETTLE_BASE_SECONDS", "ENGINE_SYNC_SETTLE_SECONDS", 600.0, minimum=0
)
ENGINE_SYNC_SETTLE_SECONDS_PER_GB = env_float("ENGINE_SYNC_SETTLE_SECONDS_PER_GB", 10.0, minimum=0)
# Expected upload time before the project has history: base + size x per-GB.
ENGINE_EXPECTED_BASE_SECONDS = env_float("ENGINE_EXPECTED_BASE_SECONDS", 120.0, minimum=0)
ENGINE_EXPECTED_SECONDS_PER_GB = env_float("ENGINE_EXPECTED_SECONDS_PER_GB", 20.0, minimum=0)
# A job running longer than this multiple of its expected duration is failed as stuck.
ENGINE_STUCK_FACTOR = env_float("ENGINE_STUCK_FACTOR", 4.0, minimum=1.0)
# Cinder copies the volume with the token that sent the upload: the upload is sent with a
# token that outlives this multiple of the expected copy time (a new sign-in when the one held
# would not), and a submission whose expected copy outlasts a K5 token is refused.
ENGINE_COPY_TOKEN_FACTOR = env_float("ENGINE_COPY_TOKEN_FACTOR", 2.0, minimum=1.0)
# After a job succeeded, its image's sync_status_reason is still read from the project's image
# listings for this long (a registration can fail after the settle window), and a project with
# no other work is listed for it at most every ENGINE_SYNC_WATCH_INTERVAL_SECONDS.
ENGINE_SYNC_WATCH_HOURS = env_float("ENGINE_SYNC_WATCH_HOURS", 24.0, minimum=0)
ENGINE_SYNC_WATCH_INTERVAL_SECONDS = env_float(
    "ENGINE_SYNC_WATCH_INTERVAL_SECONDS", 300.0, minimum=1
)
# A job left in "submitting" this long (worker died, answer lost) is reconciled against K5.
ENGINE_SUBMIT_GRACE_SECONDS = env_float(
    "ENGINE_SUBMIT_GRACE_SECONDS", 2 * K5_READ_TIMEOUT + 30, minimum=1
)
# How long a wait after K5 is unreachable before the upload is tried again.
ENGINE_UNAVAILABLE_BACKOFF_SECONDS = env_float(
    "ENGINE_UNAVAILABLE_BACKOFF_SECONDS", 60.0, minimum=0
)
# How long one ticker task ticks before it enqueues its successor (imaging.tasks.run_ticker).
ENGINE_TICKER_SECONDS = env_float("ENGINE_TICKER_SECONDS", 55.0, minimum=1)
# The ticker's cluster-wide lease, renewed every third of it while ticking: a ticker killed with
# its worker is noticed this long after its last renewal.
ENGINE_TICKER_LEASE_SECONDS = env_float("ENGINE_TICKER_LEASE_SECONDS", 10.0, minimum=1)
# How often every worker process looks whether a ticker holds the lease, and queues one if not
# (0: never; only django-q2's minute schedule restarts it then).
ENGINE_WATCHDOG_SECONDS = env_float("ENGINE_WATCHDOG_SECONDS", 5.0, minimum=0)
# Projects polled at once: each thread waits on one project's two K5 lists.
ENGINE_POLL_THREADS = env_int("ENGINE_POLL_THREADS", 32, minimum=1)
# The longest one project's poll may take (its calls, retries and a sign-in together); a slower
# project is polled again at a later tick, and never holds up the others.
ENGINE_POLL_DEADLINE_SECONDS = env_float("ENGINE_POLL_DEADLINE_SECONDS", 30.0, minimum=1)
ENGINE_NOTIFY_TIMEOUT = env_float("ENGINE_NOTIFY_TIMEOUT", 10.0, minimum=0.1)
# Automation (imaging/engine/automation.py). A Windows round trip waits this long for Sysprep's
# /shutdown, then is cancelled and its snapshot deleted.
ENGINE_SHUTDOWN_WAIT_SECONDS = env_float("ENGINE_SHUTDOWN_WAIT_SECONDS", 7200.0, minimum=1)
# How long a server may take to stop or start (K5 powers it off by force before this), and the
# volume to show a restore, before the step waits for a person.
ENGINE_POWER_WAIT_SECONDS = env_float("ENGINE_POWER_WAIT_SECONDS", 1800.0, minimum=1)
ENGINE_RESTORE_WAIT_SECONDS = env_float("ENGINE_RESTORE_WAIT_SECONDS", 3600.0, minimum=1)
# A step's K5 action that shows no effect after this long is sent again (it never reached K5:
# an action that took effect shows in the server's or volume's status first).
ENGINE_STEP_RESEND_SECONDS = env_float("ENGINE_STEP_RESEND_SECONDS", 60.0, minimum=1)
# A transient K5 error (5xx, timeout) in a step: tried again after this, doubling to 10 min.
ENGINE_STEP_RETRY_SECONDS = env_float("ENGINE_STEP_RETRY_SECONDS", 10.0, minimum=0)
PORTAL_BASE_URL = env_url("PORTAL_BASE_URL", "http://127.0.0.1:8000", schemes=("http", "https"))

# --- Operations: probes and metrics (docs/operations.md) --------------------------------------
# /readyz fails the engine when its last tick is older than this. A worker killed mid-chain is
# replaced by the minute schedule once its ticker lease (ENGINE_TICKER_SECONDS + tick + 30 s)
# has run out, so a normal recovery stays well inside 300 s.
READYZ_MAX_TICK_AGE_SECONDS = env_float("READYZ_MAX_TICK_AGE_SECONDS", 300.0, minimum=1)
# Bearer token for /metrics and the details of /readyz; unset, /metrics answers 404.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long")
