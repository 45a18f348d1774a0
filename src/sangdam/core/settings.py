"""Configuration from the environment (``SANGDAM_*``), with documented defaults.

Every setting is listed in ``docs/configuration.md``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANGDAM_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the SQLite database and attachments live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/sangdam.db (WAL mode)."
    )
    redis_url: str | None = Field(default=None, description="Redis URL; when set, events go through Redis pub/sub.")
    secret_key: str | None = Field(
        default=None, description="Secret for tokens; default a random key kept in <data_dir>/secret.key."
    )
    timezone: str = "Asia/Seoul"
    company_name: str = "한빛카드"
    company_phone: str = "1588-0000"
    lost_card_phone: str = "1588-0001"
    session_hours: float = Field(default=8.0, description="Agent console session lifetime (hours of inactivity).")
    cookie_secure: bool = Field(default=False, description="Mark cookies Secure (set true behind HTTPS).")
    max_attachments: int = 5
    max_attachment_bytes: int = 10 * 1024 * 1024
    lookup_attempts_per_window: int = Field(default=5, description="Failed receipt lookups allowed per window.")
    lookup_window_seconds: int = 15 * 60
    login_attempts_per_window: int = 10
    inquiries_per_phone_per_hour: int = Field(
        default=10, ge=0, description="Inquiries one phone number may file per hour (portal, API); 0: no limit."
    )
    inquiries_per_address_per_hour: int = Field(
        default=100, ge=0, description="Inquiries one client address may file per hour (portal, API); 0: no limit."
    )
    default_language: str = "ko"
    dispatch_interval_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often the routing dispatcher runs (it also wakes on routing events); 0 turns it off.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for e-mail (chat transcripts); unset: no e-mail is sent."
    )
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_from: str = Field(default="help@sangdam.local", description="Sender address of e-mail the service sends.")
    agent_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        description="After an agent's last console/chat socket closes, wait this long before re-queuing their chats.",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sangdam.db').resolve()}"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        import secrets

        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
