"""Settings for the tracker, read from environment variables.

One module for every environment. ``DJANGO_ENV`` is ``development`` (the default) or
``production``; development defaults are safe on a laptop, production refuses to start without
the values that must never be guessed. README "Configuration" lists every variable.
"""

import datetime
import secrets
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """An integer variable; a value that is not a whole number at or above ``minimum`` stops startup."""
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def _env_time(name: str, default: str) -> datetime.time:
    raw = env.str(name, default=default)
    try:
        return datetime.time.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a time of day such as 09:30, not {raw!r}.") from None


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.str(name, default=default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def _development_secret_key() -> str:
    """A key made once per checkout and kept in the git-ignored var/ folder."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DJANGO_ENV = _env_choice("DJANGO_ENV", "development", ("development", "production"))
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    missing = [name for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL") if not env.str(name, default="")]
    if missing:
        raise ImproperlyConfigured(f"Production needs these environment variables: {', '.join(missing)}.")
    SECRET_KEY = env.str("SECRET_KEY")
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()
    DEBUG = env.bool("DEBUG", default=True)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "axes",
    "django_otp",
    "accounts.apps.AuthenticatorsConfig",  # django_otp.plugins.otp_totp, named for the admin
    "accounts",
    "patients",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Everything but static files carries or leads to patient data: no browser or proxy keeps a
    # copy (tracker.privacy). Early, so that every answer below it gets the header.
    "tracker.privacy.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "tracker.headers.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.idle.IdleSignOutMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After OTPMiddleware (it reads user.is_verified()) and htmx (it answers htmx requests in kind).
    "accounts.two_factor.TwoFactorWallMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

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
                "patients.views.context_processors.pipeline_health",
                "accounts.context_processors.session_timer",
            ],
        },
    },
]

# SQLite by default, under var/. The web process, the worker and beat all write to it, so it runs
# in WAL mode with a busy timeout, and each write transaction takes its lock up front.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that the Celery workers an integration test starts share the database.
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_SQLITE_PATH", default=str(VAR_DIR / "test.sqlite3"))}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "patients:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Sign-in (README "Security and privacy"). django-axes counts failed sign-ins by user name and, apart,
# by address: either count reaching the limit refuses that user, or that address, for a while. Its
# backend goes first so that a locked-out sign-in never reaches the password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
# Failed sign-ins, for one user name or from one address, after which the sign-in is refused.
AXES_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
# How long a lockout lasts; failures older than this are forgotten. An admin may unlock sooner.
AXES_COOLOFF_TIME = datetime.timedelta(minutes=_env_int("LOGIN_LOCKOUT_MINUTES", 30, minimum=1))
# Never cleared by a success: one account's right password must not wipe an address's count.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"
AXES_VERBOSE = False

# Proxies in front of the app that set X-Forwarded-Proto and append to X-Forwarded-For (README
# "Running it for a real clinic": one TLS proxy). Only then are those headers believed; with 0 the
# app is reached directly and they are ignored, since any client could send them.
TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 1 if PRODUCTION else 0)
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Two-factor sign-in with a time-based code (django-otp). Whoever has enrolled is always asked for
# a code; with REQUIRE_TWO_FACTOR on, whoever has not is sent to enrol before any staff page.
# Off in development so that the demo logins work.
REQUIRE_TWO_FACTOR = env.bool("REQUIRE_TWO_FACTOR", default=PRODUCTION)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Implant monitoring")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Sessions end after SESSION_IDLE_MINUTES without a request, and when the browser closes (the
# cookie has no expiry date). Requests move the end (accounts.idle, which saves the session at
# most once a minute); pages warn SESSION_WARNING_SECONDS before it.
SESSION_ENGINE = "accounts.idle"
SESSION_IDLE_MINUTES = _env_int("SESSION_IDLE_MINUTES", 30, minimum=2)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_WARNING_SECONDS = 60

LANGUAGE_CODE = "en-gb"
# The server's zone for the admin; every clinic has its own zone for its patients' days.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Production serves what collectstatic gathered; elsewhere whitenoise finds files where they lie,
# so tests (which run with DEBUG off) get the same pages without a collect step.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
WHITENOISE_USE_FINDERS = not PRODUCTION
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # The manifest needs collectstatic; tests and development run without it.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

# Mail: in development every message lands as a file in var/mail/ for a newcomer to read.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="filemail://")
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend" and not EMAIL_CONFIG.get(
    "EMAIL_FILE_PATH"
):
    EMAIL_CONFIG["EMAIL_FILE_PATH"] = str(VAR_DIR / "mail")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Clinic reminders <reminders@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = _env_int("EMAIL_TIMEOUT", 20, minimum=1)

# HTTPS only in production (README "Configuration"); `check --deploy` passes with the defaults.
if PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # A year; browsers then refuse plain HTTP to this host and, with the flag, its subdomains.
    SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 365 * 24 * 60 * 60)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts, styles, fonts and images from the site itself and
# nothing inline, so an injected <script> or style="" does nothing. Bootstrap's stylesheet draws
# its form icons as data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
# Browser features no page of the tracker uses, switched off for every page (tracker.headers).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    )
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery: JSON only, UTC only, acknowledged after the work is done; waits live in the database.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Each entry expires shortly before its next tick: ticks that piled up in Redis while the workers
# were down are dropped, not run back to back, since the next tick does the same work anyway.
CELERY_BEAT_SCHEDULE = {
    # Every minute: files uploaded for import and not yet checked, and confirmed files not yet
    # imported. The page asks for both at once; this catches a request the broker lost.
    "check-waiting-imports": {
        "task": "patients.tasks.check_waiting_imports",
        "schedule": 60,
        "options": {"expires": 55},
    },
    "import-confirmed-files": {
        "task": "patients.tasks.import_confirmed_files",
        "schedule": 60,
        "options": {"expires": 55},
    },
    # Every minute: send the reminders that are due, retry the ones whose wait is over, return
    # rows abandoned by a dead worker, and expire the ones whose visit has passed.
    "dispatch-due-reminders": {
        "task": "patients.tasks.dispatch_due_reminders",
        "schedule": 60,
        "options": {"expires": 55},
    },
    # Every five minutes: each clinic whose digest time has come today gets it, once.
    "send-coordinator-digests": {
        "task": "patients.tasks.send_coordinator_digests",
        "schedule": 5 * 60,
        "options": {"expires": 5 * 60 - 10},
    },
    # Every quarter of an hour: in each clinic whose day has turned, visits that are over (the
    # window closed, and any appointment booked later has passed) become missed. Running it again
    # on the same day changes nothing.
    "mark-missed-visits": {
        "task": "patients.tasks.mark_missed_visits_everywhere",
        "schedule": 15 * 60,
        "options": {"expires": 15 * 60 - 10},
    },
    # Every hour: in each clinic whose day has turned, every patient's therapy attendance is
    # counted for the new day, for the dashboard's low-attendance list. Redone hourly so that a
    # clinic's midnight is caught within the hour wherever it is; a rerun counts no one twice.
    "count-attendance": {
        "task": "patients.tasks.count_attendance_everywhere",
        "schedule": 60 * 60,
        "options": {"expires": 60 * 60 - 60},
    },
    # Once a day: delete change history and read-log rows older than AUDIT_RETENTION_DAYS. A second
    # run on the same day finds nothing more to delete.
    "prune-audit-trail": {
        "task": "patients.tasks.prune_audit_trail",
        "schedule": 24 * 60 * 60,
        "options": {"expires": 24 * 60 * 60 - 60},
    },
}

# The schedule rules. README "How the schedule works" explains each; a clinic reads them there.
# Days either side of a monitoring visit's due date in which it counts as on time.
MONITORING_WINDOW_DAYS = _env_int("MONITORING_WINDOW_DAYS", 7)
# Months between monitoring visits after a placement.
MONITORING_INTERVAL_MONTHS = _env_int("MONITORING_INTERVAL_MONTHS", 1, minimum=1)
# Days before coverage ends that a renewal may be booked; a product may set its own.
RENEWAL_WINDOW_LEAD_DAYS = _env_int("RENEWAL_WINDOW_LEAD_DAYS", 14)
# Days past the end of coverage after which the next placement needs the induction checklist.
REINDUCTION_AFTER_LAPSE_DAYS = _env_int("REINDUCTION_AFTER_LAPSE_DAYS", 7)
# Opioid-free days the induction checklist asks for before a first placement or re-induction.
INDUCTION_MIN_OPIOID_FREE_DAYS = _env_int("INDUCTION_MIN_OPIOID_FREE_DAYS", 7, minimum=1)
# Liver tests: the upper limit of normal (U/L) and the multiple of it that raises a safety flag.
ALT_UPPER_LIMIT_OF_NORMAL = _env_int("ALT_UPPER_LIMIT_OF_NORMAL", 40, minimum=1)
AST_UPPER_LIMIT_OF_NORMAL = _env_int("AST_UPPER_LIMIT_OF_NORMAL", 40, minimum=1)
LIVER_FLAG_MULTIPLE = _env_int("LIVER_FLAG_MULTIPLE", 3, minimum=1)
# How far ahead a typed date may reach, in months: a placement's coverage end (from the product or a
# clinician's override), an appointment, a day to phone again. Beyond it a date is a typing mistake,
# and a coverage end years away would plan hundreds of visits and reminders.
MAX_COVERAGE_MONTHS = _env_int("MAX_COVERAGE_MONTHS", 12, minimum=1)

# The most rows of records one import from a spreadsheet takes (README "Configuration"). A larger
# file is refused with its count, to be split: each import is read, checked and previewed whole
# while the manager waits for the page.
IMPORT_MAX_ROWS = _env_int("IMPORT_MAX_ROWS", 20000, minimum=1)
# Days a checked file waits for its manager to confirm it; then it is let go (with its preview), and
# nothing of it is saved.
IMPORT_CONFIRM_DAYS = _env_int("IMPORT_CONFIRM_DAYS", 7, minimum=1)

# Reminders (README "Reminders"). Times are clinic-local; a clinic may set its own daytime hours.
# The local time at which a reminder goes out on its day.
REMINDER_SEND_TIME = _env_time("REMINDER_SEND_TIME", "10:00")
# The hours in which patients may be emailed; a reminder due at night waits for the morning.
REMINDER_DAYTIME_START = _env_time("REMINDER_DAYTIME_START", "09:00")
REMINDER_DAYTIME_END = _env_time("REMINDER_DAYTIME_END", "19:00")
if not REMINDER_DAYTIME_START < REMINDER_DAYTIME_END:
    raise ImproperlyConfigured("REMINDER_DAYTIME_START must come before REMINDER_DAYTIME_END.")
# Attempts before a reminder that keeps failing for a passing reason is marked failed.
REMINDER_MAX_ATTEMPTS = _env_int("REMINDER_MAX_ATTEMPTS", 6, minimum=1)
# The first retry waits this long; each later one waits twice as long as the one before.
REMINDER_RETRY_BASE_SECONDS = _env_int("REMINDER_RETRY_BASE_SECONDS", 60, minimum=1)
# A claimed reminder still unsent after this long (its worker died) goes back to pending.
REMINDER_LEASE_SECONDS = _env_int("REMINDER_LEASE_SECONDS", 300, minimum=5)
# Seconds after which a dispatcher run takes no new batch (the next run carries on); well under
# the task's soft time limit, so a run is never cut off in the middle of a send.
REMINDER_RUN_SECONDS = _env_int("REMINDER_RUN_SECONDS", 120, minimum=1)
# Reminders one dispatcher claims at a time.
REMINDER_BATCH_SIZE = _env_int("REMINDER_BATCH_SIZE", 50, minimum=1)
# Days a confirm or unsubscribe link in an email keeps working.
REMINDER_LINK_MAX_AGE_DAYS = _env_int("REMINDER_LINK_MAX_AGE_DAYS", 60, minimum=1)
# Minutes without a dispatcher run after which every staff page warns that reminders are not going out.
DISPATCHER_SILENT_AFTER_MINUTES = _env_int("DISPATCHER_SILENT_AFTER_MINUTES", 10, minimum=1)
# The local time at which each clinic's coordinators get their daily digest.
DIGEST_SEND_TIME = _env_time("DIGEST_SEND_TIME", "07:30")
# Minutes after which a digest claimed by a worker that never sent it is taken over by another.
DIGEST_CLAIM_MINUTES = _env_int("DIGEST_CLAIM_MINUTES", 30, minimum=1)
# The address patients' links point at; its host name also ends every Message-ID and calendar UID.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# The audit trail (README "Security and privacy"): change history and the read log are kept this
# many days, six years by default, then deleted by `manage.py prune_audit` (and daily by beat).
AUDIT_RETENTION_DAYS = _env_int("AUDIT_RETENTION_DAYS", 6 * 365, minimum=1)
# History is shown, never written back: a revert would change records without the services.
SIMPLE_HISTORY_REVERT_DISABLED = True

# Every record loses its URLs' query strings and its exceptions' messages before it is written
# (tracker.privacy): a search for a patient's name, or an error quoting a row, never reaches a log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_patient_data": {"()": "tracker.privacy.PatientDataFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_patient_data"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own loggers write through the same filtered handler, runserver's request lines too.
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
