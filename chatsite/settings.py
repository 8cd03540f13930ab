"""Settings for chatsite. Everything an operator changes comes from the environment.

Local defaults just work: DEBUG on, dynalite on 127.0.0.1:8001, dummy AWS credentials.
With DEBUG off the site refuses to start without a real DJANGO_SECRET_KEY.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chatsite.request_log import log_format

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

_PLACEHOLDER_KEYS = {"", "change-me", "changeme", "secret", "django-insecure-local-only"}
_MAKE_A_KEY = ("Set it to a long random value, e.g. "
               "`export DJANGO_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')`.")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if SECRET_KEY.strip().lower() in _PLACEHOLDER_KEYS or SECRET_KEY.startswith("django-insecure"):
    if not DEBUG:
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is missing or a placeholder while DJANGO_DEBUG is off. {_MAKE_A_KEY}")
    SECRET_KEY = "django-insecure-local-only"
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    # What `manage.py check --deploy` calls weak (security.W009): refuse to start, not just warn.
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is too weak ({len(SECRET_KEY)} characters, {len(set(SECRET_KEY))} distinct; "
        f"it needs at least 50 and 5). {_MAKE_A_KEY}")
# Rotating the key (docs/operations.md): the old key(s), comma-separated, still verify what they
# signed (live cursors, "Load older" links, signed cookies) but sign nothing new. Held to the same
# strength as the key itself: a weak fallback would let anyone forge those.
SECRET_KEY_FALLBACKS = [key.strip() for key in os.environ.get("DJANGO_SECRET_KEY_FALLBACKS", "").split(",")
                        if key.strip()]
if not DEBUG and any(len(key) < 50 or len(set(key)) < 5 for key in SECRET_KEY_FALLBACKS):
    raise ImproperlyConfigured(f"A key in DJANGO_SECRET_KEY_FALLBACKS is too weak (each needs at least 50 "
                               f"characters and 5 distinct): list only keys that were DJANGO_SECRET_KEY.")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# --- DynamoDB -------------------------------------------------------------------------------
# Empty endpoint means AWS itself; credentials then come from the standard boto chain.
DYNAMODB_ENDPOINT_URL = os.environ.get("DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:8001" if DEBUG else "")
AWS_DEFAULT_REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
DYNAMODB_TABLE_PREFIX = os.environ.get("DYNAMODB_TABLE_PREFIX", "")
# Bounded retries and timeouts: a slow or throttling DynamoDB must answer (or fail) well inside
# gunicorn's worker timeout (30 s, see gunicorn.conf.py): worst case per call is
# attempts × (connect + read timeout) + backoff (≤ 1 s + 2 s) = 12 s, so even two failing calls
# in one request end (as a 503) before gunicorn would kill the worker.
DYNAMODB_CONNECT_TIMEOUT = float(os.environ.get("DYNAMODB_CONNECT_TIMEOUT", "1"))
DYNAMODB_READ_TIMEOUT = float(os.environ.get("DYNAMODB_READ_TIMEOUT", "2"))
DYNAMODB_MAX_ATTEMPTS = int(os.environ.get("DYNAMODB_MAX_ATTEMPTS", "3"))

if DYNAMODB_ENDPOINT_URL:
    # A local endpoint (dynalite, moto) accepts any credentials; don't make people configure some.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
os.environ.setdefault("AWS_DEFAULT_REGION", AWS_DEFAULT_REGION)

# --- Django -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    # Not django.contrib.auth / contenttypes / sessions: they bring ORM models. We still use
    # their model-free parts (hashers, password validators, SessionBase).
    "django.contrib.staticfiles",
    "django.contrib.messages",
    "django_htmx",
    "chatsite",
    "accounts",
    "rooms",
    "demo",  # commands that span both apps (seed_demo)
]

MIDDLEWARE = [
    "chatsite.middleware.HealthCheckMiddleware",  # first: balancers probe by IP, not an allowed host
    # Outside everything else (so it sees the session's DynamoDB calls, the bulkhead's 503 and the
    # error pages), but after /healthz: the balancer's probes every few seconds are not logged.
    "chatsite.request_log.RequestLogMiddleware",
    "chatsite.metrics.MetricsMiddleware",  # the same span: latency by URL pattern and status
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that may answer with the 503 page, so chatsite.errors can use request.htmx.
    "django_htmx.middleware.HtmxMiddleware",
    "chatsite.middleware.BulkheadMiddleware",  # after /healthz and static files: keeps threads free
    "chatsite.middleware.DynamoDBUnavailableMiddleware",
    "chatsite.middleware.ContentSecurityPolicyMiddleware",
    "chatsite.middleware.NoStoreForSignedInMiddleware",  # sees request.user after it was (or wasn't) used
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
MIDDLEWARE[:0] = ["bench.middleware.BenchMiddleware"] if os.environ.get("CHATSITE_BENCH") == "1" else []

ROOT_URLCONF = "chatsite.urls"
WSGI_APPLICATION = "chatsite.wsgi.application"

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

# No SQL database, anywhere. All data lives in DynamoDB.
DATABASES: dict = {}

SESSION_ENGINE = "accounts.session_engine"
SESSION_COOKIE_AGE = int(os.environ.get("DJANGO_SESSION_COOKIE_AGE", str(14 * 24 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

# No AUTHENTICATION_BACKENDS: nothing calls contrib.auth's authenticate(); accounts.services.sign_in
# checks passwords against the user items.
LOGIN_URL = "accounts:sign_in"
LOGIN_REDIRECT_URL = "rooms:list"
LOGOUT_REDIRECT_URL = "rooms:list"

# --- Accounts ---------------------------------------------------------------------------------
# Failed sign-ins allowed per username (and per username on one known device) in a window, and per
# client address (IPv6: per /64): far more per address, so one office NAT is not locked out by a few.
ACCOUNTS_SIGN_IN_FAILURE_LIMIT = int(os.environ.get("ACCOUNTS_SIGN_IN_FAILURE_LIMIT", "5"))
ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT = int(os.environ.get("ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT", "50"))
ACCOUNTS_SIGN_IN_FAILURE_WINDOW = int(os.environ.get("ACCOUNTS_SIGN_IN_FAILURE_WINDOW", str(15 * 60)))
# A browser that signed in as a user is remembered for that user this long (signed cookie).
ACCOUNTS_KNOWN_DEVICE_SECONDS = int(os.environ.get("ACCOUNTS_KNOWN_DEVICE_SECONDS", str(365 * 24 * 3600)))
# Sign-up attempts per client address (IPv6: per /64) per window.
ACCOUNTS_SIGN_UP_LIMIT = int(os.environ.get("ACCOUNTS_SIGN_UP_LIMIT", "10"))
ACCOUNTS_SIGN_UP_WINDOW = int(os.environ.get("ACCOUNTS_SIGN_UP_WINDOW", "3600"))
ACCOUNTS_DEVICE_LINK_SECONDS = 5 * 60  # a "link a device" code's lifetime
ACCOUNTS_DEVICE_LINK_FAILURE_LIMIT = 10  # wrong codes per client address per window
# How many reverse proxies in front of gunicorn append to X-Forwarded-For. 0: use REMOTE_ADDR.
ACCOUNTS_TRUSTED_PROXIES = int(os.environ.get("ACCOUNTS_TRUSTED_PROXIES", "0"))
# How long a process trusts its copy of a user item (password hash, is_active, is_staff, display
# name) before reading it again: the longest a change made on another process takes to reach a
# session there. The process making the change drops its copy at once.
ACCOUNTS_USER_RECHECK_SECONDS = float(os.environ.get("ACCOUNTS_USER_RECHECK_SECONDS", "3"))
# How long a process serves a session it read (or wrote) without reading it again: the longest a
# session ended on another process keeps working here. The process ending it forgets it at once;
# 0 reads the session on every request (accounts/session_cache.py).
ACCOUNTS_SESSION_CACHE_SECONDS = float(os.environ.get("ACCOUNTS_SESSION_CACHE_SECONDS", "3"))
# While this process reads the session feed (accounts/session_feed.py: every session ended or
# rewritten anywhere, one consistent Query per ACCOUNTS_SESSION_FEED_SECONDS), a cached session
# serves for up to ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS, and one ended on another process stops
# working here within ACCOUNTS_SESSION_FEED_SECONDS. 0 turns the feed off (the bound above only).
ACCOUNTS_SESSION_FEED_SECONDS = float(os.environ.get("ACCOUNTS_SESSION_FEED_SECONDS", "1"))
ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = float(os.environ.get("ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS", "60"))

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("username", "display_name")}},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "staticfiles": {
        "BACKEND": "chatsite.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security ---------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_COOKIE_SAMESITE = "Lax"
# Behind TLS in production. DJANGO_SECURE=0 turns these off for a production-like run on
# plain http://127.0.0.1 (the benchmark and browser tests do that).
_SECURE = env_bool("DJANGO_SECURE", not DEBUG)
SESSION_COOKIE_SECURE = _SECURE
CSRF_COOKIE_SECURE = _SECURE
SECURE_SSL_REDIRECT = _SECURE and env_bool("DJANGO_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000")) if _SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _SECURE
SECURE_HSTS_PRELOAD = _SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY", False) else None
# Content-Security-Policy: no inline script anywhere; HTMX and our JS load from /static/.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

# --- Chat -------------------------------------------------------------------------------------
CHAT_HISTORY_PAGE_SIZE = 50
# The room page's newest messages from memory (rooms/room_tail.py): a tail of the newest
# CHAT_HISTORY_PAGE_SIZE + 1 messages for at most this many rooms per process, the least recently
# viewed dropped first (0: no tails, every room page reads its history); a tail is loaded again
# from DynamoDB at least this often.
CHAT_ROOM_TAILS_MAX = int(os.environ.get("CHAT_ROOM_TAILS_MAX", "1000"))
CHAT_ROOM_TAIL_MAX_AGE_SECONDS = float(os.environ.get("CHAT_ROOM_TAIL_MAX_AGE_SECONDS", "300"))
# A room whose pages come less than CHAT_LIVE_REFRESH_SECONDS apart on a process ("hot") has its
# feed refreshed ahead by that process's tails' upkeep thread, so its pages find the tail fresh
# (rooms.room_tail.TailUpkeep): at most this many rooms per process, the coldest giving way; each
# costs up to 1.5 of the feed's Queries per CHAT_LIVE_REFRESH_SECONDS, ~5-15 ms of one thread's
# time each. 0: no refresh ahead; a page finding the tail stale refreshes the feed itself.
CHAT_ROOM_TAILS_AHEAD_MAX = int(os.environ.get("CHAT_ROOM_TAILS_AHEAD_MAX", "20"))
# A hot room's tail (one the upkeep keeps, above) may be deepened once, by one Query, to hold the
# page around a read position further back (a reader with many unread messages): to at most this
# many messages, so at most CHAT_ROOM_TAILS_AHEAD_MAX x this many beyond the default per process.
# 0: never deepened (such pages read room history around the position, 2 Queries).
CHAT_ROOM_TAIL_DEEP_MAX = int(os.environ.get("CHAT_ROOM_TAIL_DEEP_MAX", "200"))
CHAT_MESSAGE_MAX_LENGTH = 4000
# How long an author may edit their message after posting it (staff: any time). The Edit button
# goes away after it, and the server refuses (rooms.services.message_edit).
CHAT_MESSAGE_EDIT_SECONDS = int(os.environ.get("CHAT_MESSAGE_EDIT_SECONDS", "86400"))
CHAT_THREAD_PAGE_SIZE = 50  # a thread view's page: the root and its replies, oldest first
# Mentions (rooms/mentions.py): the Mentions page lists the last 90 days (the items' TTL), 20 a page.
CHAT_MENTION_TTL_SECONDS = 90 * 24 * 3600
CHAT_MENTION_PAGE_SIZE = 20
# Reactions (rooms.services.reaction_set): the most JSON a message's `Reactions` attribute may hold
# (its reactors' ids and names), so a message item stays far below DynamoDB's 400 KB.
CHAT_REACTIONS_MAX_BYTES = 16384
# Live updates: see docs/live-updates.md.
CHAT_LIVE_REFRESH_SECONDS = float(os.environ.get("CHAT_LIVE_REFRESH_SECONDS", "0.5"))
CHAT_LIVE_POLL_SECONDS = float(os.environ.get("CHAT_LIVE_POLL_SECONDS", "1"))
CHAT_LIVE_OVERLAP_SECONDS = float(os.environ.get("CHAT_LIVE_OVERLAP_SECONDS", "10"))
# A client whose cursor is older than this reloads the page instead of replaying the gap.
CHAT_LIVE_RESUME_MAX_SECONDS = float(os.environ.get("CHAT_LIVE_RESUME_MAX_SECONDS", "600"))
# Catch-ups (a tab resuming past the feed's memory runs its own Queries) per client IP (IPv6: /64)
# per window, across hosts; over it the poll gets 429 with Retry-After.
CHAT_LIVE_CATCHUP_LIMIT = int(os.environ.get("CHAT_LIVE_CATCHUP_LIMIT", "30"))
CHAT_LIVE_CATCHUP_WINDOW_SECONDS = int(os.environ.get("CHAT_LIVE_CATCHUP_WINDOW_SECONDS", "60"))
CHAT_TOMBSTONE_TTL_SECONDS = 24 * 3600  # deletion events outlive any resumable cursor
# Pushed live delivery (rooms/streams.py, docs/live-updates.md). "auto": streams are served when
# the process runs under gevent (gunicorn's gevent worker, gunicorn.conf.py), where an idle stream
# holds no thread; "on"/"off" force it. Without streams the page polls, as before.
CHAT_LIVE_STREAMS = os.environ.get("CHAT_LIVE_STREAMS", "auto")
CHAT_LIVE_PUSH_REFRESH_SECONDS = float(os.environ.get("CHAT_LIVE_PUSH_REFRESH_SECONDS", "0.2"))
CHAT_LIVE_HEARTBEAT_SECONDS = float(os.environ.get("CHAT_LIVE_HEARTBEAT_SECONDS", "15"))
# Session and membership are checked again this often while a stream stays open (at most 60 s).
CHAT_LIVE_STREAM_RECHECK_SECONDS = min(60.0, float(os.environ.get("CHAT_LIVE_STREAM_RECHECK_SECONDS", "60")))
CHAT_LIVE_STREAM_RETRY_MS = int(os.environ.get("CHAT_LIVE_STREAM_RETRY_MS", "2000"))
# A stream whose client stops reading is dropped once a write has waited this long.
CHAT_LIVE_SEND_TIMEOUT_SECONDS = float(os.environ.get("CHAT_LIVE_SEND_TIMEOUT_SECONDS", "30"))
CHAT_LIVE_EVENT_TTL_SECONDS = 3600  # live events outlive any resumable cursor (CHAT_LIVE_RESUME_MAX_SECONDS)
# Presence ("Here now") and typing (rooms/presence.py, docs/live-updates.md). A tab beats every
# ~20 s while it is visible and in use; a member whose last beat is older than the window drops off.
CHAT_PRESENCE_WINDOW_SECONDS = float(os.environ.get("CHAT_PRESENCE_WINDOW_SECONDS", "45"))
CHAT_PRESENCE_WRITE_SECONDS = float(os.environ.get("CHAT_PRESENCE_WRITE_SECONDS", "15"))  # per process, same state
# A typist's signal shows this long; tabs send one at most every 3 s while typing.
CHAT_TYPING_WINDOW_SECONDS = float(os.environ.get("CHAT_TYPING_WINDOW_SECONDS", "5"))
CHAT_TYPING_WRITE_SECONDS = float(os.environ.get("CHAT_TYPING_WRITE_SECONDS", "3"))
CHAT_SIGNAL_TTL_SECONDS = 300  # presence and typing items; reads filter by time anyway
CHAT_ROOM_CACHE_SECONDS = float(os.environ.get("CHAT_ROOM_CACHE_SECONDS", "30"))
# delete_room waits CHAT_ROOM_CACHE_SECONDS plus this (posts in flight, index lag) before sweeping.
CHAT_ROOM_DELETE_GRACE_SECONDS = float(os.environ.get("CHAT_ROOM_DELETE_GRACE_SECONDS", "10"))
# Search index writes (rooms/search_index.py): "thread" off the request path (a bounded queue per
# process; what a full queue or a crash loses, `manage.py reindex` repairs), "inline", or "off".
CHAT_SEARCH_INDEXER = os.environ.get("CHAT_SEARCH_INDEXER", "thread")
if CHAT_SEARCH_INDEXER not in ("thread", "inline", "off"):
    raise ImproperlyConfigured(f"CHAT_SEARCH_INDEXER is {CHAT_SEARCH_INDEXER!r}; use thread, inline or off")
CHAT_SEARCH_QUEUE_SIZE = int(os.environ.get("CHAT_SEARCH_QUEUE_SIZE", "2000"))
# Unread counts: a process reuses a room's Seq (messages posted) it read this recently, so a count
# may miss the last moment's posts made elsewhere; 0 reads it every time.
CHAT_ROOM_SEQ_CACHE_SECONDS = float(os.environ.get("CHAT_ROOM_SEQ_CACHE_SECONDS", "2"))
# The activity feed (rooms/activity.py): unread changes reach every signed-in stream through a few
# shared partitions, each read once per refresh per process while any such stream is open.
CHAT_ACTIVITY_SHARDS = max(1, int(os.environ.get("CHAT_ACTIVITY_SHARDS", "4")))
CHAT_ACTIVITY_REFRESH_SECONDS = float(os.environ.get("CHAT_ACTIVITY_REFRESH_SECONDS", "1"))
# While that feed is read (signed-in pages keep it running), it keeps the room Seq cache current:
# an entry serves up to this long after its read, a post counted within 2 refreshes of its event;
# 0: entries serve CHAT_ROOM_SEQ_CACHE_SECONDS only, and pages don't run the feed.
CHAT_ROOM_SEQ_FEED_SECONDS = float(os.environ.get("CHAT_ROOM_SEQ_FEED_SECONDS", "60"))
CHAT_ROOM_LIST_PAGE_SIZE = 50
CHAT_MEMBER_PAGE_SIZE = 50
# A private room's page hands its tab a live-update grant valid this long; a removed member's tab
# stops receiving within it (the renewal checks membership). At most 60.
CHAT_LIVE_GRANT_SECONDS = min(60.0, float(os.environ.get("CHAT_LIVE_GRANT_SECONDS", "30")))
# Posting: at most CHAT_POST_RATE_LIMIT messages per user per fixed window (all workers, all hosts).
CHAT_POST_RATE_LIMIT = int(os.environ.get("CHAT_POST_RATE_LIMIT", "20"))
CHAT_POST_RATE_WINDOW_SECONDS = int(os.environ.get("CHAT_POST_RATE_WINDOW_SECONDS", "60"))
# Room creation: at most CHAT_ROOM_CREATE_LIMIT attempts per user per window (all hosts).
CHAT_ROOM_CREATE_LIMIT = int(os.environ.get("CHAT_ROOM_CREATE_LIMIT", "10"))
CHAT_ROOM_CREATE_WINDOW_SECONDS = int(os.environ.get("CHAT_ROOM_CREATE_WINDOW_SECONDS", "3600"))
# Changing messages (edits and reaction changes that write): at most CHAT_MESSAGE_CHANGE_LIMIT per
# user per window (all hosts); each change is live to every open tab of the room.
CHAT_MESSAGE_CHANGE_LIMIT = int(os.environ.get("CHAT_MESSAGE_CHANGE_LIMIT", "60"))
CHAT_MESSAGE_CHANGE_WINDOW_SECONDS = int(os.environ.get("CHAT_MESSAGE_CHANGE_WINDOW_SECONDS", "60"))

# DJANGO_LOG_FORMAT: "text" (the default, for people) or "json" (one JSON object per line, for
# CloudWatch Logs and the like). Either way every line of a request carries its X-Request-ID, and
# each request logs one line on chatsite.request (chatsite/request_log.py, docs/deploy.md "Logs").
DJANGO_LOG_FORMAT = log_format(os.environ.get("DJANGO_LOG_FORMAT"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "chatsite.request_log.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "chatsite.request_log.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"],
                             "formatter": "json" if DJANGO_LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Our 503 middleware logs DynamoDB failures once per request; don't log them twice.
        "django.request": {"level": "ERROR"},
        "botocore": {"level": "WARNING"},
        "pynamodb": {"level": "WARNING"},
    },
}
CSRF_FAILURE_VIEW = "chatsite.errors.csrf_failure"
