"""Typed readers for environment variables: a bad value stops start-up with a message naming it.

After healthchecks' `envbool`/`envint`: anything but an exact, expected spelling is an error,
so that a typo in production configuration fails loudly instead of silently using a default.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    """The variable, or the content of the file named by NAME_FILE (for secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below its minimum of {minimum}")
    return number


def env_float_renamed(
    name: str, old_name: str, default: float, *, minimum: float | None = None
) -> float:
    """`name`, or else the variable it replaces (`old_name`), so that an existing set-up keeps
    working; both set at once is an error rather than a silent choice."""
    if os.environ.get(name) and os.environ.get(old_name):
        raise ImproperlyConfigured(f"{old_name} is the old name of {name}: set only {name}")
    if os.environ.get(old_name):
        return env_float(old_name, default, minimum=minimum)
    return env_float(name, default, minimum=minimum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below its minimum of {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    value = os.environ.get(name) or default
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a URL with one of the schemes {', '.join(schemes)}"
        )
    return value


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def env_duration(name: str, default: timedelta, *, minimum: timedelta | None = None) -> timedelta:
    """A length of time: `90s`, `30m`, `12h`, `2d`, or a plain number of seconds."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    unit = value[-1].lower()
    number = value[:-1] if unit in _DURATION_UNITS else value
    try:
        seconds = float(number) * _DURATION_UNITS.get(unit, 1)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a length of time: use e.g. 90s, 30m, 12h, 2d or seconds"
        ) from None
    duration = timedelta(seconds=seconds)
    if minimum is not None and duration < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} is below its minimum of {minimum}")
    return duration


def env_pairs(name: str) -> list[tuple[str, str]]:
    """`key=value,key=value` in order; a key may repeat. Spaces around items are ignored."""
    pairs = []
    for item in env_list(name, []):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name}: {item!r} is not key=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def env_networks(name: str, default: str = "") -> str:
    """Comma-separated addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`), or `*` for
    any; given back as the same comma-separated text, checked."""
    value = os.environ.get(name, default)
    items = [item.strip() for item in value.split(",") if item.strip()]
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}={value!r}: {item!r} is not an address or a network "
                "(10.0.0.5, 10.0.0.0/24), nor *"
            ) from None
    return ",".join(items)
