"""Configuration from the environment, read once, so every entry point agrees.

Every environment variable the service reads is read here (the README lists each); times
are the district's (Beijing, `dispatch.clock.SHANGHAI`) and not configurable.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"  # the files shipped with us


@dataclass(frozen=True)
class Settings:
    """Everything an operator may set; the README lists each variable."""

    database_url: str | None
    data_dir: Path
    redis_url: str | None
    redis_prefix: str
    secret_key: str
    host: str
    port: int
    pool_min: int
    pool_max: int
    trust_proxy: bool
    near_expiry_days: int
    access_token_minutes: int
    refresh_token_days: int
    login_failure_limit: int
    login_failure_window_minutes: int
    play_lease_seconds: int
    demo_drill: str | None  # a file of the scenarios folder the server plays live
    demo_drill_speed: float
    scenarios_dir: Path
    json_body_max_bytes: int
    upload_body_max_bytes: int
    json_max_depth: int
    hotline_watch_seconds: float  # between two sweeps for overdue tickets (0: no sweep)
    callout_watch_seconds: float  # between two call-out sweeps: escalation, SMS (0: none)
    sms_gateway_url: str | None  # the SMS gateway's send address; None: no SMS channel
    sms_gateway_token: str | None  # sent to the gateway, and expected on its webhook
    public_url: str  # where a recipient's phone reaches the service (one-time links)
    callout_link_hours: int  # how long a one-time call-out link stays valid
    password_hash: str  # "recommended" (argon2id, RFC 9106) or "cheapest" (test suites only)

    @property
    def sms_enabled(self) -> bool:
        """SMS goes out only with both a gateway and its token: the default has neither,
        so a demo or a test never sends a real message."""
        return bool(self.sms_gateway_url and self.sms_gateway_token)

    @property
    def reference_dir(self) -> Path:
        return Path(__file__).resolve().parent.parent / "geo" / "data" / "dongcheng"


def _secret_key(data_dir: Path) -> str:
    """A key shared by every worker: from the environment, else kept in the data folder."""
    explicit = os.environ.get("DISPATCH_SECRET_KEY")
    if explicit:
        return explicit
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("DISPATCH_DATA_DIR", ".dispatch")).resolve()
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        data_dir=data_dir,
        redis_url=os.environ.get("REDIS_URL") or None,
        redis_prefix=os.environ.get("DISPATCH_REDIS_PREFIX", "dispatch"),
        secret_key=_secret_key(data_dir),
        host=os.environ.get("DISPATCH_HOST", "127.0.0.1"),
        port=_int("DISPATCH_PORT", 8000),
        pool_min=_int("DISPATCH_DB_POOL_MIN", 1),
        pool_max=_int("DISPATCH_DB_POOL_MAX", 10),
        trust_proxy=_bool("DISPATCH_TRUST_PROXY"),
        near_expiry_days=_int("DISPATCH_NEAR_EXPIRY_DAYS", 30),
        access_token_minutes=_int("DISPATCH_ACCESS_TOKEN_MINUTES", 15),
        refresh_token_days=_int("DISPATCH_REFRESH_TOKEN_DAYS", 7),
        login_failure_limit=_int("DISPATCH_LOGIN_FAILURE_LIMIT", 10),
        login_failure_window_minutes=_int("DISPATCH_LOGIN_FAILURE_WINDOW_MINUTES", 15),
        play_lease_seconds=_int("DISPATCH_PLAY_LEASE_SECONDS", 15),
        demo_drill=os.environ.get("DISPATCH_DEMO_DRILL", "").strip() or None,
        demo_drill_speed=float(os.environ.get("DISPATCH_DEMO_DRILL_SPEED") or 60),
        scenarios_dir=Path(os.environ.get("DISPATCH_SCENARIOS_DIR") or SCENARIOS).resolve(),
        json_body_max_bytes=_int("DISPATCH_JSON_BODY_MAX_BYTES", 2**20),
        upload_body_max_bytes=_int("DISPATCH_UPLOAD_BODY_MAX_BYTES", 11 * 2**20),
        json_max_depth=_int("DISPATCH_JSON_MAX_DEPTH", 64),
        hotline_watch_seconds=float(os.environ.get("DISPATCH_HOTLINE_WATCH_SECONDS") or 30),
        callout_watch_seconds=float(os.environ.get("DISPATCH_CALLOUT_WATCH_SECONDS") or 15),
        sms_gateway_url=os.environ.get("DISPATCH_SMS_GATEWAY_URL", "").strip() or None,
        sms_gateway_token=os.environ.get("DISPATCH_SMS_GATEWAY_TOKEN", "").strip() or None,
        public_url=_public_url(),
        callout_link_hours=_int("DISPATCH_CALLOUT_LINK_HOURS", 12),
        password_hash=_password_hash(),
    )


def _public_url() -> str:
    """The service's address as a phone outside sees it (behind a proxy: the proxy's)."""
    given = os.environ.get("DISPATCH_PUBLIC_URL", "").strip().rstrip("/")
    if given:
        return given
    host = os.environ.get("DISPATCH_HOST", "127.0.0.1")
    return f"http://{host}:{_int('DISPATCH_PORT', 8000)}"


PASSWORD_HASHES = ("recommended", "cheapest")


def _password_hash() -> str:
    value = os.environ.get("DISPATCH_PASSWORD_HASH", "recommended").strip().lower()
    if value not in PASSWORD_HASHES:
        raise ValueError(f"DISPATCH_PASSWORD_HASH must be one of {', '.join(PASSWORD_HASHES)}")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
