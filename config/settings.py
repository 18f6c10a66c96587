"""Settings for govreg, read from the environment (see README, "Settings").

The embedded default (no variables set) is a SQLite file and eager Celery
tasks. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
ALLOWED_HOSTS and DEBUG=false.
"""

import os
import re
import secrets
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_database,
    env_int,
    env_int_map,
    env_list,
    env_required,
    env_str,
    env_str_mapping,
    env_url,
)
from config.sso import oidc_config

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
# A public key is only for local runs (`make run` sets DEBUG=true); anything else
# must bring its own, or start-up stops naming SECRET_KEY.
_DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-key-change-me"
# Commands that only read the code (migrations, static files, the OpenAPI document)
# sign nothing that outlives them: a key of their own process is enough there.
_CODE_ONLY_COMMANDS = {"makemigrations", "collectstatic", "spectacular"}
_command = sys.argv[1] if len(sys.argv) > 1 and Path(sys.argv[0]).name == "manage.py" else None
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", _DEVELOPMENT_SECRET_KEY)
elif _command in _CODE_ONLY_COMMANDS and not os.environ.get("SECRET_KEY"):
    SECRET_KEY = secrets.token_urlsafe(50)
else:
    SECRET_KEY = env_required(
        "SECRET_KEY",
        "DEBUG is false, so the public development key is refused; generate one with "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'",
    )
    if SECRET_KEY == _DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must not be the public development key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
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
    "guardian",
    "knox",
    "django_prometheus",
    "csp",
    "console",
    "audit",
    "accounts",
    "vocabulary",
    "lineage",
    "registry",
    "risk",
    "playbooks",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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
                "console.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'govreg.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so read-then-write sequences
    # (the audit chain head) never deadlock; WAL lets readers run alongside.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("GOVREG_DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Prepared statements for the hot reads built once per process (config.statements),
    # planned once per connection; Django leaves them off by default for poolers in
    # transaction mode: turn them off behind one.
    if env_bool("GOVREG_DB_PREPARED_STATEMENTS", True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
test_db_name = env_str("GOVREG_TEST_DB_NAME")
if test_db_name is None and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so subprocesses (CLI, manage.py) in tests see the same data;
    # one per test session so parallel runs never share it.
    test_db_name = str(Path(tempfile.gettempdir()) / f"govreg-test-{os.getpid()}.sqlite3")
if test_db_name:
    DATABASES["default"]["TEST"] = {"NAME": test_db_name}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "accounts.authentication.ModelBackend",  # Django's, one query for a user's permissions
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "console-login"  # govreg's own sign-in page (/login/)
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "console-login"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user object; anonymous gets nothing
GUARDIAN_RAISE_403 = False
# Single sign-on with OpenID Connect (README "Single sign-on"): off unless
# GOVREG_OIDC_CLIENT_ID is set; then mozilla-django-oidc's OIDC_* settings follow from
# the GOVREG_OIDC_* ones, and its backend signs people in beside the local accounts.
GOVREG_OIDC = oidc_config()
if GOVREG_OIDC is not None:
    AUTHENTICATION_BACKENDS.append("accounts.oidc.GroupMappingBackend")
    globals().update(GOVREG_OIDC.library_settings())

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve admin and API-docs assets without collectstatic

# --- API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.TokenScopePermission",
    ],
    "DEFAULT_FILTER_BACKENDS": ["config.api.FilterBackend"],
    # strict JSON for every endpoint (no NaN, no nesting past the recursion limit)
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # requests without credentials, where an endpoint allows them (config/throttling.py)
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.AnonymousThrottle"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# knox's own migrations create its default token table even when the model is
# swapped; ours lives in accounts, so knox's migrations are switched off.
MIGRATION_MODULES = {"knox": None}
# API tokens: the lifetime a token gets when none is asked for, and the longest any
# token may have (the API and manage.py issue_token alike; none is endless)
GOVREG_TOKEN_MAX_DAYS = env_int("GOVREG_TOKEN_MAX_DAYS", 365, minimum=1)
GOVREG_TOKEN_TTL_DAYS = min(env_int("GOVREG_TOKEN_TTL_DAYS", 90, minimum=1), GOVREG_TOKEN_MAX_DAYS)
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(days=GOVREG_TOKEN_TTL_DAYS),
    "TOKEN_PREFIX": "gvr_",
    "TOKEN_MODEL": "accounts.ApiToken",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "govreg API",
    "DESCRIPTION": "Governance and lineage registry for machine-learning models.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Schema warnings are a test concern (tests/service), not a deploy-time check.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    # Both choice sets appear in fields named "category" (a risk's, an incident verb's).
    "ENUM_NAME_OVERRIDES": {
        "RiskCategoryEnum": "risk.choices.RiskCategory",
        "SeriousCategoryEnum": "playbooks.choices.SeriousCategory",
        "RequestKindEnum": "registry.choices.RequestKind",
        "RedTeamExerciseStatusEnum": "risk.choices.ExerciseStatus",
        "RedTeamFindingStatusEnum": "risk.choices.FindingStatus",
    },
    # every operation declares its error answers, with the Error component (config/schema.py)
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.declare_errors",
    ],
}

# --- Celery ----------------------------------------------------------------
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", None, {"redis", "rediss", "amqp", "memory"})
CELERY_TASK_ALWAYS_EAGER = env_bool("GOVREG_CELERY_EAGER", CELERY_BROKER_URL is None)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND",
    CELERY_BROKER_URL if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith("redis") else None,
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {
    "audit-verify-chain": {"task": "audit.verify_chain", "schedule": 24 * 3600},
    "audit-sign-checkpoint": {"task": "audit.sign_checkpoint", "schedule": 3600},
    "accounts-purge-expired-tokens": {"task": "accounts.purge_expired_tokens", "schedule": 3600},
    "risk-review-reminders": {"task": "risk.review_reminders", "schedule": 3600},
    "risk-expire-acceptances": {"task": "risk.expire_acceptances", "schedule": 900},
    "risk-redteam-reminders": {"task": "risk.redteam_reminders", "schedule": 3600},
    "playbooks-escalate-incidents": {"task": "playbooks.escalate_incidents", "schedule": 60},
    "playbooks-triage-pending": {"task": "playbooks.triage_pending", "schedule": 60},
    "playbooks-detect-silent-monitors": {
        "task": "playbooks.detect_silent_monitors",
        "schedule": 60,
    },
    "lineage-purge-events": {"task": "lineage.purge_events", "schedule": 3600},
    "lineage-project-pending": {"task": "lineage.project_pending", "schedule": 60},
    "playbooks-regulatory-deadlines": {
        "task": "playbooks.regulatory_deadline_warnings",
        "schedule": 3600,
    },
}

# --- Cache and rate limits (config/throttling.py) ---------------------------
# Rate limits count in the cache: Redis (GOVREG_CACHE_URL, else a Redis broker's URL)
# so every web process shares the counts; process memory when there is none.
GOVREG_CACHE_URL = env_url(
    "GOVREG_CACHE_URL",
    CELERY_BROKER_URL if (CELERY_BROKER_URL or "").startswith("redis") else None,
    {"redis", "rediss"},
)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": GOVREG_CACHE_URL,
    }
    if GOVREG_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# "N/second|minute|hour|day" (or "off") per client address (sign-in, anonymous, feedback) or
# per user (tokens)
GOVREG_RATE_LIMITS = {
    scope: None if rate == "off" else rate
    for scope, rate in {
        "sign-in": env_str("GOVREG_RATE_SIGN_IN", "10/minute"),
        "tokens": env_str("GOVREG_RATE_TOKENS", "30/hour"),
        "anonymous": env_str("GOVREG_RATE_ANONYMOUS", "600/minute"),
        "feedback": env_str("GOVREG_RATE_FEEDBACK", "10/hour"),
    }.items()
}
for _scope, _rate in GOVREG_RATE_LIMITS.items():
    if _rate is not None and not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day)", _rate):
        raise ImproperlyConfigured(
            f"the {_scope} rate limit must read N/second, N/minute, N/hour, N/day or off, "
            f"got {_rate!r}"
        )

# --- Mail ------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "govreg@localhost")

# --- Security (production values when DEBUG is false) ----------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("GOVREG_BEHIND_TLS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = env_bool("GOVREG_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("GOVREG_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env_bool("GOVREG_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Every asset is served from here (no CDN) and no page has inline script or style,
# so the policy stays strict; data: images are the icons inside Swagger UI's CSS.
# /api/docs/ adds the hash of its one inline <style> (config.views.ApiDocsView).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- govreg ----------------------------------------------------------------
GOVREG_METRICS_TOKEN = env_str("GOVREG_METRICS_TOKEN")
# The audit trail's Merkle checkpoints are signed with this Ed25519 key: a PEM file's
# path, or the base64 of the 32 raw bytes. Unset with DEBUG on: generated once into a
# file next to the SQLite database. Unset with DEBUG off: `check --deploy` warns.
GOVREG_AUDIT_SIGNING_KEY = env_str("GOVREG_AUDIT_SIGNING_KEY")
# The same key as a PEM file's path (preferred; set one of the two, not both).
GOVREG_SIGNING_KEY_FILE = env_str("GOVREG_SIGNING_KEY_FILE")
GOVREG_AUDIT_LOG_ORIGIN = env_str("GOVREG_AUDIT_LOG_ORIGIN", "govreg/audit")
# How long audit events are kept (days). EU AI Act Art. 19 asks for six months at
# least, so anything under 183 stops start-up; nothing in govreg deletes audit rows.
GOVREG_AUDIT_RETENTION_DAYS = env_int("GOVREG_AUDIT_RETENTION_DAYS", 3650)
if GOVREG_AUDIT_RETENTION_DAYS < 183:
    raise ImproperlyConfigured(
        "GOVREG_AUDIT_RETENTION_DAYS must be at least 183 (six months, EU AI Act Art. 19),"
        f" got {GOVREG_AUDIT_RETENTION_DAYS}"
    )
# Where finished audit exports (signed bundles) are kept until downloaded.
GOVREG_AUDIT_EXPORT_DIR = env_str("GOVREG_AUDIT_EXPORT_DIR", str(BASE_DIR / "audit-exports"))
# When set, `migrate` (run as the tables' owner) ends by granting this role what the web
# and workers need and no more: the audit tables take only INSERT and SELECT.
GOVREG_DATABASE_APP_ROLE = env_str("GOVREG_DATABASE_APP_ROLE")
GOVREG_TRUST_X_FORWARDED_FOR = env_bool("GOVREG_TRUST_X_FORWARDED_FOR", False)
# How many proxies of yours append to X-Forwarded-For: the client is the entry
# that many places from the right (the hops left of it are the client's to forge).
GOVREG_TRUSTED_PROXY_COUNT = env_int("GOVREG_TRUSTED_PROXY_COUNT", 1, minimum=1)
GOVREG_LINEAGE_MAX_BODY_BYTES = env_int("GOVREG_LINEAGE_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1)
GOVREG_LINEAGE_ALLOW_ANONYMOUS = env_bool("GOVREG_LINEAGE_ALLOW_ANONYMOUS", False)
# Most events one POST /api/v1/lineage/batch may carry (413 above it); a batch is projected
# in transactions of GOVREG_LINEAGE_BATCH_CHUNK events.
GOVREG_LINEAGE_MAX_BATCH_EVENTS = env_int("GOVREG_LINEAGE_MAX_BATCH_EVENTS", 1000, minimum=1)
GOVREG_LINEAGE_BATCH_CHUNK = env_int("GOVREG_LINEAGE_BATCH_CHUNK", 100, minimum=1)
# inline: the intake projects each event in its request; queued: it stores the raw event
# and a worker projects the queue, GOVREG_LINEAGE_PROJECTION_BATCH events per transaction
# (lineage.queue); auto: queued when Celery has a broker, else inline.
GOVREG_LINEAGE_PROJECTION = (env_str("GOVREG_LINEAGE_PROJECTION") or "auto").lower()
if GOVREG_LINEAGE_PROJECTION not in {"auto", "inline", "queued"}:
    raise ImproperlyConfigured(
        "GOVREG_LINEAGE_PROJECTION must be auto, inline or queued, "
        f"got {GOVREG_LINEAGE_PROJECTION!r}"
    )
GOVREG_LINEAGE_PROJECTION_BATCH = env_int("GOVREG_LINEAGE_PROJECTION_BATCH", 500, minimum=1)
# Queued: the projector runs this many milliseconds after a nudge, and a process sends at
# most one nudge per such window, so one run projects every event committed meanwhile
# (0: a nudge per commit, projected at once).
GOVREG_LINEAGE_PROJECTION_DELAY_MS = env_int("GOVREG_LINEAGE_PROJECTION_DELAY_MS", 1000, minimum=0)
# Days raw OpenLineage events are kept (by event time; 0: forever). The beat task
# lineage.purge_events deletes older ones in transactions of GOVREG_LINEAGE_PURGE_BATCH
# events; projections and the events of runs governance records refer to are kept.
GOVREG_LINEAGE_EVENT_RETENTION_DAYS = env_int("GOVREG_LINEAGE_EVENT_RETENTION_DAYS", 0, minimum=0)
GOVREG_LINEAGE_PURGE_BATCH = env_int("GOVREG_LINEAGE_PURGE_BATCH", 1000, minimum=1)
# Directories under which POST /api/lineage/dvc-imports may read DVC repositories (none: off).
GOVREG_LINEAGE_DVC_ROOTS = env_list("GOVREG_LINEAGE_DVC_ROOTS", [])
# Where the registry is reached by people: put in front of the links in mails (unset: paths).
GOVREG_BASE_URL = env_url("GOVREG_BASE_URL", None, {"http", "https"})
GOVREG_ESCALATION_WEBHOOK_URL = env_url("GOVREG_ESCALATION_WEBHOOK_URL", None, {"http", "https"})
# Webhooks are always signed, with a key of their own (never SECRET_KEY, which
# receivers would then hold): a webhook URL without it stops start-up.
GOVREG_WEBHOOK_SECRET = env_str("GOVREG_WEBHOOK_SECRET")
if GOVREG_ESCALATION_WEBHOOK_URL and not GOVREG_WEBHOOK_SECRET:
    raise ImproperlyConfigured(
        "GOVREG_WEBHOOK_SECRET must be set when GOVREG_ESCALATION_WEBHOOK_URL is: "
        "outgoing webhooks are signed with it and never sent unsigned"
    )
GOVREG_WEBHOOK_TIMEOUT_SECONDS = env_int("GOVREG_WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# MLflow registry sync (registry/mlflow_sync.py), off unless a tracking server is named:
# registered models, versions and aliases are imported by `manage.py sync_mlflow` and a
# beat task every GOVREG_MLFLOW_SYNC_SECONDS. A model's team is its MLflow tag
# GOVREG_MLFLOW_TEAM_TAG, else GOVREG_MLFLOW_TEAM; its risk tier the tag govreg.risk_tier,
# else GOVREG_MLFLOW_RISK_TIER. GOVREG_MLFLOW_ALIAS_ENVIRONMENTS maps MLflow aliases to
# govreg environments ('{"production": "production"}'): an alias on a version govreg has
# not approved there is an ungoverned deployment (a critical signal). With
# GOVREG_MLFLOW_WEBHOOK_SECRET set, MLflow's signed registry webhooks trigger a sync too.
GOVREG_MLFLOW_TRACKING_URI = env_url("GOVREG_MLFLOW_TRACKING_URI", None, {"http", "https"})
GOVREG_MLFLOW_TEAM = env_str("GOVREG_MLFLOW_TEAM")
GOVREG_MLFLOW_TEAM_TAG = env_str("GOVREG_MLFLOW_TEAM_TAG", "govreg.team")
GOVREG_MLFLOW_RISK_TIER = env_str("GOVREG_MLFLOW_RISK_TIER", "high")
if GOVREG_MLFLOW_RISK_TIER not in {"minimal", "limited", "high", "unacceptable"}:
    raise ImproperlyConfigured(
        "GOVREG_MLFLOW_RISK_TIER must be one of minimal, limited, high, unacceptable, "
        f"got {GOVREG_MLFLOW_RISK_TIER!r}"
    )
GOVREG_MLFLOW_ALIAS_ENVIRONMENTS = env_str_mapping("GOVREG_MLFLOW_ALIAS_ENVIRONMENTS")
GOVREG_MLFLOW_SYNC_SECONDS = env_int("GOVREG_MLFLOW_SYNC_SECONDS", 300, minimum=10)
GOVREG_MLFLOW_WEBHOOK_SECRET = env_str("GOVREG_MLFLOW_WEBHOOK_SECRET")
GOVREG_MLFLOW_WEBHOOK_TOLERANCE_SECONDS = env_int(
    "GOVREG_MLFLOW_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1
)
if GOVREG_MLFLOW_TRACKING_URI:
    CELERY_BEAT_SCHEDULE["registry-sync-mlflow"] = {
        "task": "registry.sync_mlflow",
        "schedule": GOVREG_MLFLOW_SYNC_SECONDS,
    }
GOVREG_REGULATORY_WARNING_HOURS = env_int("GOVREG_REGULATORY_WARNING_HOURS", 48, minimum=1)
# Who a serious-incident report (EU AI Act Art. 73) names as the provider and its contact
# point; a model card's own `provider` takes precedence over the name, and the card's
# `contact` stands in when no contact point is set.
GOVREG_PROVIDER_NAME = env_str("GOVREG_PROVIDER_NAME", "")
GOVREG_PROVIDER_CONTACT = env_str("GOVREG_PROVIDER_CONTACT", "")
# Risk register: how many days ahead a review counts as due, an acceptance as expiring.
GOVREG_RISK_REVIEW_NOTICE_DAYS = env_int("GOVREG_RISK_REVIEW_NOTICE_DAYS", 7, minimum=0)
GOVREG_RISK_ACCEPTANCE_NOTICE_DAYS = env_int("GOVREG_RISK_ACCEPTANCE_NOTICE_DAYS", 14, minimum=0)
# Shared on-call groups any team's playbook may escalate to (comma-separated team
# names; empty: none). Otherwise a playbook escalates to its own team and the board.
GOVREG_SHARED_ESCALATION_GROUPS = env_list("GOVREG_SHARED_ESCALATION_GROUPS", [])
# Risk tiers whose models deploy only when every linked risk at level high or above
# has sufficient monitoring (the gate check "risks-monitored"; empty: no tier).
GOVREG_SUFFICIENT_MONITORING_TIERS = env_list("GOVREG_SUFFICIENT_MONITORING_TIERS", ["high"])
_TIERS = {"minimal", "limited", "high", "unacceptable"}
if not set(GOVREG_SUFFICIENT_MONITORING_TIERS) <= _TIERS:
    raise ImproperlyConfigured(
        "GOVREG_SUFFICIENT_MONITORING_TIERS names unknown risk tiers: "
        f"{', '.join(sorted(set(GOVREG_SUFFICIENT_MONITORING_TIERS) - _TIERS))} "
        f"(known: {', '.join(sorted(_TIERS))})"
    )
# Red-team cadence: the days a model of each risk tier may go without a completed
# red-team exercise ("high=180,limited=365"; 0 or left out: no cadence for that tier).
GOVREG_REDTEAM_CADENCE_DAYS = env_int_map(
    "GOVREG_REDTEAM_CADENCE_DAYS",
    {"high": 180},
    {"minimal", "limited", "high", "unacceptable"},
)
# Signal intake: what one Alertmanager request may hold (above it: 413), and how the
# stored alerts are triaged (in the request up to SYNC_TRIAGE_MAX alerts, else by a task;
# TRIAGE_BATCH signals per transaction).
GOVREG_SIGNALS_MAX_BODY_BYTES = env_int(
    "GOVREG_SIGNALS_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1
)
GOVREG_SIGNALS_MAX_ALERTS = env_int("GOVREG_SIGNALS_MAX_ALERTS", 10000, minimum=1)
GOVREG_SIGNALS_MAX_LABEL_LENGTH = env_int("GOVREG_SIGNALS_MAX_LABEL_LENGTH", 2048, minimum=1)
GOVREG_SIGNALS_MAX_ANNOTATION_LENGTH = env_int(
    "GOVREG_SIGNALS_MAX_ANNOTATION_LENGTH", 16384, minimum=1
)
GOVREG_SIGNALS_SYNC_TRIAGE_MAX = env_int("GOVREG_SIGNALS_SYNC_TRIAGE_MAX", 20, minimum=0)
GOVREG_SIGNALS_TRIAGE_BATCH = env_int("GOVREG_SIGNALS_TRIAGE_BATCH", 50, minimum=1)
# Signed generic webhooks (POST /api/signals/webhook/{source}): a signature whose
# X-Govreg-Timestamp is further than this from now is refused (401), so a captured
# request cannot be replayed later.
GOVREG_SIGNALS_WEBHOOK_TOLERANCE_SECONDS = env_int(
    "GOVREG_SIGNALS_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1
)
# Feedback reports (POST /api/models/{name}/feedback, the public card's form): the
# longest text, and the words that make a report critical (it opens or joins an
# incident); any other report is questionable (an investigation task).
GOVREG_FEEDBACK_MAX_CHARS = env_int("GOVREG_FEEDBACK_MAX_CHARS", 4000, minimum=1)
GOVREG_FEEDBACK_CRITICAL_KEYWORDS = [
    word.casefold()
    for word in env_list(
        "GOVREG_FEEDBACK_CRITICAL_KEYWORDS",
        ["injury", "injured", "harm", "unsafe", "discrimination", "self-harm", "data leak"],
    )
]
DATA_UPLOAD_MAX_MEMORY_SIZE = GOVREG_LINEAGE_MAX_BODY_BYTES + 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("GOVREG_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
