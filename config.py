"""Settings from the environment (and a `.env` file); the defaults are embedded mode.

Every setting is listed in README.md. Embedded mode needs none of them: SQLite in `instance/`,
a secret key generated into `instance/secret_key` on first run and kept.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent
LANGUAGES = ("fr", "en")
API_NETWORKS = ("x", "mastodon", "bluesky")
_N = TypeVar("_N", int, float)


class ConfigError(RuntimeError):
    """A setting has a value the application cannot run with."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def _number(name: str, value: str | None, default: _N, cast: Callable[[str], _N]) -> _N:
    if value is None or value == "":
        return default
    try:
        return cast(value)
    except ValueError as exc:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(f"{name} must be {kind}, not {value!r}") from exc


def _live_networks(environ: os._Environ[str] | dict[str, str]) -> tuple[str, ...]:
    """The networks reached for real; the others go to the sandbox. X is live once its app is configured."""
    raw = environ.get("LIVE_NETWORKS")
    if raw is None:
        return ("x",) if environ.get("X_CLIENT_ID") else ()
    names = tuple(name.strip().lower() for name in raw.split(",") if name.strip())
    unknown = [name for name in names if name not in API_NETWORKS]
    if unknown:
        raise ConfigError(f"LIVE_NETWORKS takes {', '.join(API_NETWORKS)}, not {', '.join(unknown)}")
    if "x" in names and not environ.get("X_CLIENT_ID"):
        raise ConfigError("LIVE_NETWORKS includes x: set X_CLIENT_ID (and X_CLIENT_SECRET for a confidential app)")
    return names


def _dispatch(value: str | None) -> str:
    chosen = (value or "threads").strip().lower()
    if chosen not in ("threads", "celery"):
        raise ConfigError(f"DISPATCH is threads or celery, not {value!r}")
    return chosen


def _ratelimit_storage(environ: os._Environ[str] | dict[str, str]) -> str:
    """Where throttles count: memory in one process (embedded), the Celery broker's Redis when distributed,
    so that every web node counts against the same budget."""
    if environ.get("RATELIMIT_STORAGE_URI"):
        return environ["RATELIMIT_STORAGE_URI"]
    broker = environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
    if _dispatch(environ.get("DISPATCH")) == "celery" and broker.startswith(("redis://", "rediss://")):
        return broker
    return "swept-memory://"  # extensions.SweptMemoryStorage


def _page_counts(environ: os._Environ[str] | dict[str, str]) -> str:
    """Where web nodes share the clicks not folded yet (the least-contacted choice): nowhere in one process
    (embedded), the Celery broker's Redis when distributed."""
    if "PAGE_COUNTS_URL" in environ:
        return environ["PAGE_COUNTS_URL"]
    broker = environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
    if _dispatch(environ.get("DISPATCH")) == "celery" and broker.startswith(("redis://", "rediss://")):
        return broker
    return ""


def _timezone(value: str | None) -> str:
    name = value or "Europe/Paris"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TIMEZONE: unknown time zone {name!r}") from exc
    return name


def load_secret_key(instance_path: Path) -> str:
    """Read the key kept in `instance/secret_key`, generating it on first run (mode 0600)."""
    path = instance_path / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


@dataclass(frozen=True)
class Config:
    """Typed settings; `to_flask()` gives the mapping Flask's config takes."""

    SECRET_KEY: str | None
    SQLALCHEMY_DATABASE_URI: str
    INSTANCE_PATH: str
    BABEL_DEFAULT_LOCALE: str = "fr"
    BABEL_DEFAULT_TIMEZONE: str = "UTC"
    SESSION_COOKIE_SECURE: bool = False
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    MAX_CONTENT_LENGTH: int = 20 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT: int | None = None
    LOG_LEVEL: str = "INFO"
    TOKEN_KEYS: tuple[str, ...] = ()  # Fernet keys for tokens at rest, the first seals; empty = instance/
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] | None = None  # None: sized by the factory (`engine_options`)
    LIVE_NETWORKS: tuple[str, ...] = ()  # the others are sent to the sandbox
    SANDBOX_URL: str = "http://127.0.0.1:5000/sandbox"  # where the sandbox networks answer
    SANDBOX_MOUNT: bool = True  # serve the sandbox at /sandbox of this app (embedded mode)
    X_CLIENT_ID: str = "porte-voix-sandbox"
    X_CLIENT_SECRET: str | None = None
    NETWORK_TIMEOUT: float = 10.0  # seconds, every call to a network
    DELIVERY_WORKERS: int = 8  # threads posting through connected accounts (embedded mode)
    WEB_THREADS: int = 16  # gunicorn's --threads in `make run`: each may hold a database connection
    SCHEDULER_LEASE_SECONDS: int = 45  # a dead scheduler is replaced this long after its last tick
    DISPATCH: str = "threads"  # "threads" (embedded) or "celery" (distributed: `celery -A scheduler.worker worker`)
    CELERY_BROKER_URL: str = "redis://127.0.0.1:6379/0"
    CELERY_QUEUE: str = "porte-voix"  # workers listen with `-Q` on it
    CELERY_BACKLOG: int = 1000  # rows handed to the broker at most, not yet claimed by a worker
    OUTBOX_BACKOFF_SECONDS: float = 30.0  # the first retry's wait, doubled at each attempt
    OUTBOX_STALE_SECONDS: int = 120  # a row left in "sending" this long lost its worker
    OUTBOX_REDISPATCH_SECONDS: int = 60  # a row handed to Celery and unclaimed this long lost its message
    OUTBOX_BATCH: int = 16  # rows a worker claims in one statement and a Celery task carries, at most
    PUBLIC_URL: str = "http://127.0.0.1:5000"  # where supporters reach this site (links in e-mails)
    TIMEZONE: str = "Europe/Paris"  # the organisers' clock: wave windows are typed and shown in it
    SMTP_HOST: str = "127.0.0.1"
    SMTP_PORT: int = 8025  # the sandbox's SMTP sink in embedded mode
    SMTP_USERNAME: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_STARTTLS: bool = False
    SMTP_SANDBOX: bool = True  # `make run` serves the sandbox's SMTP sink on SMTP_PORT
    MAIL_FROM: str = "Porte-voix <campagnes@porte-voix.example>"
    PRODUCTION: bool = False  # true with any live network, or PRODUCTION=true: no sandbox, PUBLIC_URL required
    TRUSTED_HOSTS: tuple[str, ...] | None = None  # Host headers the app answers (Flask refuses the others with 400)
    PROXY_COUNT: int = 0  # reverse proxies in front: X-Forwarded-For/-Proto are read from that many hops
    RATELIMIT_STORAGE_URI: str = "swept-memory://"  # Flask-Limiter's counters: Redis in distributed mode
    PAGE_COUNTS_URL: str = ""  # the Redis where web nodes share recent clicks (distributed mode: the broker's)
    RATELIMIT_DEFAULT: str = "600 per minute"  # every endpoint, per hashed client
    CLICK_LIMIT: str = "20 per minute;120 per hour"  # messages counted per hashed client (more are not counted)
    VISIT_LIMIT: str = "30 per minute;300 per hour"  # new visits counted per hashed client
    PAGE_VERSION_MAX_AGE: float = 1.0  # seconds a process trusts the campaign version it read (the page's cache)
    REMEMBER_COOKIE_SECURE: bool = False
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_DURATION: int = 14 * 24 * 3600
    ALTCHA_MAX_NUMBER: int = 50_000  # the proof of work's difficulty: a phone solves it in about a second

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Config:
        """Read the settings; `.env` in the project root is loaded first and never overrides."""
        if environ is None:
            load_dotenv(ROOT / ".env", override=False)
            environ = os.environ
        instance = Path(environ.get("INSTANCE_PATH") or ROOT / "instance").resolve()
        database = environ.get("DATABASE_URL") or f"sqlite:///{instance / 'porte-voix.db'}"
        if database.startswith("postgres://"):
            database = "postgresql+psycopg://" + database.removeprefix("postgres://")
        elif database.startswith("postgresql://"):
            database = "postgresql+psycopg://" + database.removeprefix("postgresql://")
        live = _live_networks(environ)
        production = _bool(environ.get("PRODUCTION"), bool(live))
        public_url = (environ.get("PUBLIC_URL") or "").rstrip("/")
        if production and not public_url.startswith(("https://", "http://")):
            raise ConfigError("production (a live network, or PRODUCTION=true) needs PUBLIC_URL, the site's address")
        secure = _bool(environ.get("SESSION_COOKIE_SECURE"), public_url.startswith("https://"))
        hosts = tuple(h.strip() for h in environ.get("TRUSTED_HOSTS", "").split(",") if h.strip())
        locale = environ.get("DEFAULT_LANGUAGE", "fr")
        if locale not in LANGUAGES:
            raise ConfigError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}, not {locale!r}")
        return cls(
            SECRET_KEY=environ.get("SECRET_KEY") or None,
            SQLALCHEMY_DATABASE_URI=database,
            INSTANCE_PATH=str(instance),
            BABEL_DEFAULT_LOCALE=locale,
            SESSION_COOKIE_SECURE=secure,
            REMEMBER_COOKIE_SECURE=secure,
            PRODUCTION=production,
            TRUSTED_HOSTS=hosts or None,
            PROXY_COUNT=_number("PROXY_COUNT", environ.get("PROXY_COUNT"), 0, int),
            RATELIMIT_STORAGE_URI=_ratelimit_storage(environ),
            PAGE_COUNTS_URL=_page_counts(environ),
            CLICK_LIMIT=environ.get("CLICK_LIMIT") or "20 per minute;120 per hour",
            VISIT_LIMIT=environ.get("VISIT_LIMIT") or "30 per minute;300 per hour",
            RATELIMIT_DEFAULT=environ.get("RATELIMIT_DEFAULT") or "600 per minute",
            MAX_CONTENT_LENGTH=_number("MAX_UPLOAD_BYTES", environ.get("MAX_UPLOAD_BYTES"), 20 * 1024 * 1024, int),
            LOG_LEVEL=environ.get("LOG_LEVEL", "INFO").upper(),
            TOKEN_KEYS=tuple(key.strip() for key in environ.get("TOKEN_KEYS", "").split(",") if key.strip()),
            LIVE_NETWORKS=live,
            SANDBOX_URL=environ.get("SANDBOX_URL") or "http://127.0.0.1:5000/sandbox",
            SANDBOX_MOUNT=not production and _bool(environ.get("SANDBOX_MOUNT"), True),
            X_CLIENT_ID=environ.get("X_CLIENT_ID") or "porte-voix-sandbox",
            X_CLIENT_SECRET=environ.get("X_CLIENT_SECRET") or None,
            NETWORK_TIMEOUT=_number("NETWORK_TIMEOUT", environ.get("NETWORK_TIMEOUT"), 10.0, float),
            DELIVERY_WORKERS=_number("DELIVERY_WORKERS", environ.get("DELIVERY_WORKERS"), 8, int),
            SCHEDULER_LEASE_SECONDS=_number("SCHEDULER_LEASE_SECONDS", environ.get("SCHEDULER_LEASE_SECONDS"), 45, int),
            DISPATCH=_dispatch(environ.get("DISPATCH")),
            CELERY_BROKER_URL=environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0",
            CELERY_QUEUE=environ.get("CELERY_QUEUE") or "porte-voix",
            CELERY_BACKLOG=_number("CELERY_BACKLOG", environ.get("CELERY_BACKLOG"), 1000, int),
            OUTBOX_BACKOFF_SECONDS=_number(
                "OUTBOX_BACKOFF_SECONDS", environ.get("OUTBOX_BACKOFF_SECONDS"), 30.0, float
            ),
            OUTBOX_STALE_SECONDS=_number("OUTBOX_STALE_SECONDS", environ.get("OUTBOX_STALE_SECONDS"), 120, int),
            OUTBOX_BATCH=_number("OUTBOX_BATCH", environ.get("OUTBOX_BATCH"), 16, int),
            OUTBOX_REDISPATCH_SECONDS=_number(
                "OUTBOX_REDISPATCH_SECONDS", environ.get("OUTBOX_REDISPATCH_SECONDS"), 60, int
            ),
            PUBLIC_URL=public_url or "http://127.0.0.1:5000",
            TIMEZONE=_timezone(environ.get("TIMEZONE")),
            SMTP_HOST=environ.get("SMTP_HOST") or "127.0.0.1",
            SMTP_PORT=_number("SMTP_PORT", environ.get("SMTP_PORT"), 8025, int),
            SMTP_USERNAME=environ.get("SMTP_USERNAME", ""),
            SMTP_PASSWORD=environ.get("SMTP_PASSWORD", ""),
            SMTP_STARTTLS=_bool(environ.get("SMTP_STARTTLS"), False),
            SMTP_SANDBOX=_bool(environ.get("SMTP_SANDBOX"), not environ.get("SMTP_HOST")),
            MAIL_FROM=environ.get("MAIL_FROM") or "Porte-voix <campagnes@porte-voix.example>",
        )

    def to_flask(self) -> dict[str, Any]:
        values = {key: value for key, value in asdict(self).items() if value is not None}
        values["WTF_CSRF_TIME_LIMIT"] = self.WTF_CSRF_TIME_LIMIT
        return values
