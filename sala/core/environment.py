"""Read Sala's configuration from the environment (12-factor), with safe defaults."""

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def flag(name: str, default: bool) -> bool:
    """Return the boolean environment variable `name`; refuse values that are not booleans."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1 or 0.")


def integer(name: str, default: int) -> int:
    """Return the integer environment variable `name`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def string_list(name: str, default: list[str]) -> list[str]:
    """Return the comma-separated environment variable `name` as a list."""
    raw = os.environ.get(name, "")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    return items or default


def mapping(name: str) -> dict[str, str]:
    """Return the environment variable `name`, written "key=value,key=value", as a dict."""
    raw = os.environ.get(name, "")
    items: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ImproperlyConfigured(f"{name}: {item.strip()!r} is not key=value.")
        items[key.strip()] = value.strip()
    return items


def data_dir() -> Path:
    """Return the folder Sala keeps its files in (database, secret key, uploads), creating it."""
    raw = os.environ.get("SALA_DATA_DIR")
    if raw:
        path = Path(raw).expanduser()
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        path = Path(xdg) / "sala"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(folder: Path) -> str:
    """Return SECRET_KEY from the environment, or from `folder`, generating it on first run.

    The generated key is written with owner-only permissions, so every process that shares
    the data folder (app workers, the tasks worker) signs with the same key.
    """
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    path = folder / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(64)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process wrote it between our read and our create: use theirs.
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def mailer(url: str) -> dict[str, Any]:
    """Translate an EMAIL_URL into a Django MAILERS entry.

    Understood: ``console:`` (each message printed decoded, links whole), ``dummy:``,
    ``smtp://user:password@host:port`` (add ``?tls=1`` for STARTTLS) and
    ``smtps://...`` for TLS from the start.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"BACKEND": "sala.core.console_mail.EmailBackend"}
    if scheme == "dummy":
        return {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    if scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL={url!r}: use console:, dummy:, smtp://host:port or smtps://host:port."
        )
    query = parse_qs(parts.query)
    tls = query.get("tls", ["0"])[0] in {"1", "true", "yes"}
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if scheme == "smtps" else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": scheme == "smtps",
            "use_tls": tls and scheme == "smtp",
            "timeout": 10,
        },
    }
