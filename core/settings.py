"""Settings from the environment, `.streamlit/secrets.toml` and `data/`: one frozen object, read once per process."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.crypto import SecretBox, decode_key, new_key_text

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its surroundings; tests build their own."""

    database_url: str
    data_dir: Path
    cookie_key: str
    secret_key: str = ""  # base64 of 32 bytes; seals stored credentials (core.crypto)
    cookie_name: str = "meterr_auth"
    cookie_expiry_days: float = 7.0
    bcrypt_rounds: int = 12
    lockout_attempts: int = 5
    lockout_seconds: int = 60
    base_url: str = "http://localhost:8501"
    sync_interval_minutes: int = 60  # the scheduled sync in server.py; 0 turns it off
    alert_interval_minutes: int = 15  # the scheduled alert evaluation and delivery in server.py; 0 turns it off
    report_interval_minutes: int = 15  # how often server.py looks for weekly reports that are due; 0 turns it off
    # The LLM that writes executive summaries: any OpenAI-compatible endpoint. No key = the deterministic summary.
    llm_api_key: str = ""
    llm_base_url: str = ""  # "" = OpenAI's own
    llm_model: str = "gpt-4o-mini"
    # Provider API addresses, overridable for self-hosted gateways and for tests' local fake servers.
    api_bases: tuple[tuple[str, str], ...] = ()

    def secret_box(self) -> SecretBox:
        """Seals and opens stored credentials with this installation's key."""
        return SecretBox(decode_key(self.secret_key))

    def api_base(self, provider: str) -> str | None:
        return dict(self.api_bases).get(provider)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _read_secrets(path: Path) -> Mapping[str, object]:
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_or_create_key(path: Path, *, make: Callable[[], str] = lambda: secrets.token_urlsafe(48)) -> str:
    """Return the secret stored at `path`, creating it once with owner-only permissions."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = make()
    # O_EXCL: two processes starting together must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def current_settings() -> Settings:
    """Settings for this process's environment; read once per distinct environment, not on every call."""
    relevant = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("METERR_") or k == "DATABASE_URL"))
    return _settings_for(relevant)


@lru_cache(maxsize=16)
def _settings_for(relevant: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(dict(relevant))


def load_settings(env: Mapping[str, str] | None = None, *, root: Path = PROJECT_ROOT) -> Settings:
    """Read settings: environment first, then `.streamlit/secrets.toml`, then generated defaults."""
    env = os.environ if env is None else env
    file_secrets = _read_secrets(root / ".streamlit" / "secrets.toml")
    data_dir = Path(env.get("METERR_DATA_DIR") or file_secrets.get("data_dir") or root / "data")  # type: ignore[arg-type]
    database_url = str(
        env.get("DATABASE_URL") or file_secrets.get("database_url") or f"sqlite:///{data_dir / 'meterr.db'}"
    )
    cookie_key = str(
        env.get("METERR_COOKIE_KEY") or file_secrets.get("cookie_key") or load_or_create_key(data_dir / ".cookie_key")
    )
    secret_key = str(
        env.get("METERR_SECRET_KEY")
        or file_secrets.get("secret_key")
        or load_or_create_key(data_dir / ".secret_key", make=new_key_text)
    )
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        cookie_key=cookie_key,
        secret_key=secret_key,
        bcrypt_rounds=int(env.get("METERR_BCRYPT_ROUNDS", "12")),
        base_url=str(env.get("METERR_BASE_URL") or file_secrets.get("base_url") or "http://localhost:8501"),
        sync_interval_minutes=int(env.get("METERR_SYNC_INTERVAL_MINUTES", "60")),
        alert_interval_minutes=int(env.get("METERR_ALERT_INTERVAL_MINUTES", "15")),
        report_interval_minutes=int(env.get("METERR_REPORT_INTERVAL_MINUTES", "15")),
        llm_api_key=str(env.get("METERR_LLM_API_KEY") or file_secrets.get("llm_api_key") or ""),
        llm_base_url=str(env.get("METERR_LLM_BASE_URL") or file_secrets.get("llm_base_url") or ""),
        llm_model=str(env.get("METERR_LLM_MODEL") or file_secrets.get("llm_model") or "gpt-4o-mini"),
        api_bases=tuple(
            (provider, env[f"METERR_{provider.upper()}_API_BASE"])
            for provider in ("OpenAI", "Anthropic", "Stripe")
            if env.get(f"METERR_{provider.upper()}_API_BASE")
        ),
    )
