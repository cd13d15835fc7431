"""Reading the environment: typed readers that refuse a malformed value at start, the mode
(``DSO_ENV``) and where the console keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """Strict: a typo such as 'ture' must not silently mean false (e.g. insecure cookies)."""
    value = env(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false")


def env_int(name: str, default: int, *, minimum: int | None = 0) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}")
    return number


def env_float(name: str, default: float) -> float:
    value = env(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if not number > 0:
        raise ImproperlyConfigured(f"{name}={value!r} must be a positive number")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


DSO_ENV = env("DSO_ENV", "development")
if DSO_ENV not in {"development", "production"}:
    # "prod" or "Production" would otherwise quietly run with every development default.
    raise ImproperlyConfigured(f"DSO_ENV={DSO_ENV!r} is unknown: use development or production")
PRODUCTION = DSO_ENV == "production"


def required(name: str, embedded_default: str) -> str:
    value = env(name)
    if value is None:
        if PRODUCTION:
            raise ImproperlyConfigured(f"{name} must be set when DSO_ENV=production (see .env.example)")
        return embedded_default
    return value


DATA_DIR = Path(env("DSO_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def env_rate(name: str, value: str) -> tuple[int, int]:
    """'10/min' as (10, 60): how many per how many seconds."""
    count, _, period = value.partition("/")
    seconds = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
               "d": 86400, "day": 86400}.get(period.strip().lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as 10/min (per s, min, hour or day)")
    return int(count), seconds
