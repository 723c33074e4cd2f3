"""Sala's one settings module: everything comes from the environment (see README)."""

import os
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from sala.core import environment

PACKAGE_DIR = Path(__file__).resolve().parent

#: Folder for the SQLite database, the generated secret key and uploads (SALA_DATA_DIR).
DATA_DIR = environment.data_dir()

#: Development mode: debug pages, console mail, plain HTTP (SALA_DEBUG, default off).
DEBUG = environment.flag("SALA_DEBUG", False)

#: The community's name, shown in the header, titles and mail (SALA_SITE_NAME).
SALA_SITE_NAME = os.environ.get("SALA_SITE_NAME", "Sala")

#: Serve over HTTPS only: redirects, secure cookies, HSTS (SALA_HTTPS, default on unless
#: debugging). Behind a TLS-terminating proxy, the proxy must set X-Forwarded-Proto.
SALA_HTTPS = environment.flag("SALA_HTTPS", not DEBUG)

SECRET_KEY = environment.secret_key(DATA_DIR)
ALLOWED_HOSTS = environment.string_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = environment.string_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "sala.core",
    "sala.accounts",
    "sala.staff",
    "sala.trust",
    "sala.forums",
    "sala.text",
    "sala.live",
    "sala.news",
    "sala.moderation",
    "sala.sample",
    "sala.benchmark",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # django_tasks_db (task rows, their admin), started the way Sala runs tasks.
    "sala.core.tasks.apps.TaskResultsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Above everything that reads the session: a guest's cached page is answered here,
    # with the security policy it was stored with (docs/subsystems/caching.md).
    "sala.core.page_cache.middleware.GuestPageCacheMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Signs out a banned member at once, sessions already open included.
    "sala.moderation.middleware.BanMiddleware",
    "sala.accounts.middleware.MemberTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "sala.live.online.OnlineMiddleware",
]

ROOT_URLCONF = "sala.urls"
WSGI_APPLICATION = "sala.wsgi.application"
ASGI_APPLICATION = "sala.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sala.core.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

#: Where the data lives (DATABASE_URL): postgres://user:pass@host:5432/name in production;
#: by default a SQLite file in the data folder.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'sala.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while one member writes; IMMEDIATE transactions take the
    # write lock up front, so concurrent writers queue behind busy_timeout instead of
    # failing with "database is locked" when a read transaction tries to upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
    # A file, not memory, so a test's server process can share it; one per test run, so
    # runs side by side don't trample each other.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (and everything else that crosses processes) ----------------------------------

#: Redis for the cache, rate limits, presence and the live bus (REDIS_URL, optional).
#: Without it each process keeps its own, which is right for the single-process default.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "sala.core.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sala",
            # Give up fast: a page must not wait on a Redis that stopped answering.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts ---------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
#: Django's and allauth's backends, each remembering members between requests
#: (sala/accounts/remembered.py); sessions in the database, remembered the same way.
AUTHENTICATION_BACKENDS = [
    "sala.accounts.remembered.ModelBackend",
    "sala.accounts.remembered.AuthenticationBackend",
]
SESSION_ENGINE = "sala.accounts.remembered"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    # Refuses the 20,000 passwords most often found in breaches.
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "sala.accounts.validators.NotOnlySpacesPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

# The accounts' adapter, with bans refused at sign-up and sign-in.
ACCOUNT_ADAPTER = "sala.moderation.adapter.ModeratedAccountAdapter"
ACCOUNT_FORMS = {
    "login": "sala.accounts.forms.LoginForm",
    "signup": "sala.accounts.forms.SignupForm",
}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_USERNAME_MIN_LENGTH = 3
ACCOUNT_USERNAME_VALIDATORS = "sala.accounts.validators.USERNAME_VALIDATORS"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SALA_SITE_NAME}] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SALA_HTTPS else "http"
#: Reset requests and e-mail confirmations are limited per address and per account by
#: allauth; failed sign-ins and the sign-ups of a day by Sala's limiter (SALA_RATE_LIMITS).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = SALA_SITE_NAME

# --- Mail -------------------------------------------------------------------------------

#: How mail leaves (EMAIL_URL): smtp://user:pass@host:587?tls=1, smtps://..., console:.
#: Default: printed to the console in development, the local SMTP server in production.
MAILERS = {
    "default": environment.mailer(
        os.environ.get("EMAIL_URL") or ("console:" if DEBUG else "smtp://localhost:25")
    )
}
#: The sender of Sala's mail (SALA_FROM_EMAIL).
DEFAULT_FROM_EMAIL = os.environ.get("SALA_FROM_EMAIL", f"{SALA_SITE_NAME} <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Background tasks -------------------------------------------------------------------

#: Mail, feed polling and link extraction run as tasks: rows in the database, so none is
#: lost to a restart, and failures stay visible in the admin (docs/subsystems/tasks.md).
TASKS = {"default": {"BACKEND": "sala.core.tasks.DatabaseBackend"}}
#: Run tasks in a thread of each serving process, as soon as the write that enqueued
#: them commits (SALA_TASKS_IN_PROCESS, default on: the embedded default). Production
#: turns it off and runs `sala worker` beside `sala serve`.
SALA_TASKS_IN_PROCESS = environment.flag("SALA_TASKS_IN_PROCESS", True)
#: Seconds a worker may go without renewing its hold on a running task before another
#: worker takes the task over (SALA_TASKS_LEASE_SECONDS, default 60): how soon the task
#: of a crashed worker runs again. Workers renew every third of it.
SALA_TASKS_LEASE_SECONDS = environment.integer("SALA_TASKS_LEASE_SECONDS", 60)
#: Seconds an idle worker waits before it looks for due tasks again; tasks enqueued in
#: the worker's own process wake it at once (SALA_TASKS_POLL_SECONDS, default 1).
SALA_TASKS_POLL_SECONDS = environment.integer("SALA_TASKS_POLL_SECONDS", 1)
#: Days finished tasks stay in the admin before they are deleted (SALA_TASKS_KEEP_DAYS,
#: default 14).
SALA_TASKS_KEEP_DAYS = environment.integer("SALA_TASKS_KEEP_DAYS", 14)

# --- Languages and time -----------------------------------------------------------------

LANGUAGE_CODE = "en"
# A translation dropped into sala/locale/<code>/ (or a folder in SALA_LOCALE_PATHS) is
# picked up without code changes: LANGUAGES keeps Django's full list.
LOCALE_PATHS = [
    PACKAGE_DIR / "locale",
    *map(Path, environment.string_list("SALA_LOCALE_PATHS", [])),
]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- Static files and uploads -----------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
#: Where uploads are served from (SALA_MEDIA_URL): a separate host such as
#: https://media.example.org/ keeps member files off the site's origin.
MEDIA_URL = os.environ.get("SALA_MEDIA_URL", "/media/")
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "sala.core.static_storage.HashedStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

#: Largest avatar upload accepted, in bytes.
SALA_AVATAR_MAX_BYTES = 5 * 1024 * 1024
#: Largest avatar accepted, in pixels (width x height), checked before decoding.
SALA_AVATAR_MAX_PIXELS = 25_000_000

# --- Posting ----------------------------------------------------------------------------

#: Longest post a member may write, in characters.
SALA_POST_MAX_LENGTH = 30_000
#: How long after posting an author may still edit or delete a post, in minutes.
SALA_EDIT_WINDOW_MINUTES = environment.integer("SALA_EDIT_WINDOW_MINUTES", 24 * 60)
#: Reports that hide a post at once, pending review, when its author is a new member
#: (fewer than SALA_ESTABLISHED_POSTS posts); 0 turns it off.
SALA_AUTO_HIDE_REPORTS_NEW = environment.integer("SALA_AUTO_HIDE_REPORTS_NEW", 3)
#: Reports that hide a post at once, pending review, when its author is established.
SALA_AUTO_HIDE_REPORTS = environment.integer("SALA_AUTO_HIDE_REPORTS", 8)
#: Posts from which a member counts as established (for auto-hiding and report weight).
SALA_ESTABLISHED_POSTS = environment.integer("SALA_ESTABLISHED_POSTS", 10)
#: A member's first posts that wait for moderators' approval, until this many of theirs
#: are published (0: none wait).
SALA_APPROVE_FIRST_POSTS = environment.integer("SALA_APPROVE_FIRST_POSTS", 0)
#: Most links, images and members mentioned a new member (fewer than
#: SALA_ESTABLISHED_POSTS posts) may put in one post (SALA_NEW_MEMBER_MAX_LINKS, _IMAGES,
#: _MENTIONS; defaults 2, 1 and 2).
SALA_NEW_MEMBER_MAX_LINKS = environment.integer("SALA_NEW_MEMBER_MAX_LINKS", 2)
SALA_NEW_MEMBER_MAX_IMAGES = environment.integer("SALA_NEW_MEMBER_MAX_IMAGES", 1)
SALA_NEW_MEMBER_MAX_MENTIONS = environment.integer("SALA_NEW_MEMBER_MAX_MENTIONS", 2)
#: Days a moderator may undo a spammer clean-up (SALA_SPAMMER_UNDO_DAYS, default 30).
SALA_SPAMMER_UNDO_DAYS = environment.integer("SALA_SPAMMER_UNDO_DAYS", 30)
#: Rate limits on (SALA_RATE_LIMITS_ON, default on); the tests turn them off except
#: where they test them.
SALA_RATE_LIMITS_ON = environment.flag("SALA_RATE_LIMITS_ON", True)
#: Each limit as "N/S": at most N in any S seconds (S may end in m, h or d), or "off".
#: Change any in SALA_RATE_LIMITS, such as "reply=1/10,topics_day=off". "_new" limits
#: are for new members (fewer than SALA_ESTABLISHED_POSTS posts), "_first_day" ones for
#: a member's first day; staff are never limited. docs/subsystems/trust.md has them all.
SALA_RATE_LIMITS = {
    "topic": "1/15",
    "topic_new": "1/120",
    "reply": "1/5",
    "reply_new": "1/30",
    "same_text": "1/5m",
    "topics_day": "20/d",
    "topics_first_day": "3/d",
    "replies_day": "100/d",
    "replies_first_day": "10/d",
    "edits_day": "30/d",
    "reports_day": "20/d",
    "signups_address": "3/d",
    "signin_failures_address": "20/10m",
    "signin_failures_account": "5/5m",
} | environment.mapping("SALA_RATE_LIMITS")
#: Days a warning counts towards its member's points, unless the moderator says otherwise.
SALA_WARNING_DAYS = environment.integer("SALA_WARNING_DAYS", 90)
#: The automatic steps of warnings: (active points reached, "approve", "silence" or
#: "suspend", for how many days), taken when a warning brings the member's active points
#: to it (the highest step reached). "approve": their new posts wait for moderators'
#: approval; silenced members read, edit and report but start no topic and reply to
#: none; suspended ones write nothing.
SALA_WARNING_STEPS = [
    (1, "approve", 7),
    (2, "silence", 3),
    (3, "suspend", 1),
    (5, "suspend", 3),
    (8, "suspend", 7),
    (10, "suspend", 30),
]
#: Largest image upload accepted into a post, in bytes.
SALA_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
#: Largest image accepted into a post, in pixels (width x height), checked before decoding.
SALA_UPLOAD_MAX_PIXELS = 40_000_000

# --- Live updates -----------------------------------------------------------------------

#: Reverse proxies whose X-Forwarded-For is believed (SALA_TRUSTED_PROXIES: addresses or
#: networks, comma-separated). Default: this machine, where nginx usually runs.
SALA_TRUSTED_PROXIES = environment.string_list("SALA_TRUSTED_PROXIES", ["127.0.0.1", "::1"])

#: Live streams (open topic pages) one address may hold across every node (with Redis).
SALA_LIVE_STREAMS_PER_ADDRESS = environment.integer("SALA_LIVE_STREAMS_PER_ADDRESS", 100)
#: Live streams one signed-in session may hold across every node (with Redis).
SALA_LIVE_STREAMS_PER_SESSION = environment.integer("SALA_LIVE_STREAMS_PER_SESSION", 20)
#: Where pages open their live stream (SALA_LIVE_URL): empty for this origin's /live/,
#: which a proxy routes to the live server; without a proxy, the live server's own
#: address, e.g. http://forum.example:8001 (`sala serve --live-port`).
SALA_LIVE_URL = os.environ.get("SALA_LIVE_URL", "").rstrip("/")

# --- Guest page cache -------------------------------------------------------------------

#: Seconds a page rendered for guests may be answered again from a worker's memory
#: (SALA_GUEST_CACHE_SECONDS, default 30, or 0 when debugging; 0 turns the cache off; at
#: most an hour). Writes drop the pages they change at once: this bounds only what no
#: write announces, such as view counts, who is online and a member's new name.
SALA_GUEST_CACHE_SECONDS = environment.integer("SALA_GUEST_CACHE_SECONDS", 0 if DEBUG else 30)
#: Memory each worker may fill with cached guest pages, in megabytes (SALA_GUEST_CACHE_MB,
#: default 64); past it the pages read least recently go first.
SALA_GUEST_CACHE_MB = environment.integer("SALA_GUEST_CACHE_MB", 64)

# --- News in ----------------------------------------------------------------------------

#: Let the guarded fetcher reach loopback addresses (SALA_FETCH_ALLOW_LOOPBACK): only
#: for tests and local development, which serve feeds from 127.0.0.1. Private, link-local
#: and metadata addresses stay refused even then.
SALA_FETCH_ALLOW_LOOPBACK = environment.flag("SALA_FETCH_ALLOW_LOOPBACK", False)
#: Ports besides 80 and 443 the fetcher may reach on public hosts (SALA_FETCH_PORTS,
#: comma-separated), for a feed served on, say, 8080.
SALA_FETCH_PORTS = [int(port) for port in environment.string_list("SALA_FETCH_PORTS", [])]

# --- Security ---------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if SALA_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    #: How long browsers must use HTTPS only, in seconds (SALA_HSTS_SECONDS).
    SECURE_HSTS_SECONDS = environment.integer("SALA_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

_MEDIA_ORIGINS = [MEDIA_URL] if MEDIA_URL.startswith("http") else []
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, *_MEDIA_ORIGINS, "data:"],
    "connect-src": [CSP.SELF, *([SALA_LIVE_URL] if SALA_LIVE_URL else [])],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SALA_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # Each outbound request and each task state would be a line at INFO; Sala's own
        # fetcher and runner log what matters (refusals, failures) themselves.
        "httpx": {"level": "WARNING"},
        "django.tasks": {"level": "WARNING"},
    },
}
