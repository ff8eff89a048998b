import stat
from pathlib import Path

from core.settings import load_or_create_key, load_settings


def test_defaults_put_everything_under_data(tmp_path: Path) -> None:
    settings = load_settings({}, root=tmp_path)
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'meterr.db'}"
    assert settings.is_sqlite and settings.bcrypt_rounds == 12


def test_generated_cookie_key_is_owner_only_and_stable(tmp_path: Path) -> None:
    first = load_settings({}, root=tmp_path).cookie_key
    key_file = tmp_path / "data" / ".cookie_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 48
    assert load_settings({}, root=tmp_path).cookie_key == first


def test_environment_beats_secrets_file(tmp_path: Path) -> None:
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        'database_url = "sqlite:///from-secrets.db"\ncookie_key = "from-secrets"\n'
    )
    from_file = load_settings({}, root=tmp_path)
    assert (from_file.database_url, from_file.cookie_key) == ("sqlite:///from-secrets.db", "from-secrets")
    env = {
        "DATABASE_URL": "postgresql+psycopg://u@h/db",
        "METERR_COOKIE_KEY": "from-env",
        "METERR_BCRYPT_ROUNDS": "4",
    }
    from_env = load_settings(env, root=tmp_path)
    assert (from_env.database_url, from_env.cookie_key, from_env.bcrypt_rounds) == (
        "postgresql+psycopg://u@h/db",
        "from-env",
        4,
    )
    assert not from_env.is_sqlite


def test_existing_key_file_is_reused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("kept\n")
    assert load_or_create_key(path) == "kept"


def test_current_settings_follow_the_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.settings import current_settings

    monkeypatch.setenv("METERR_DATA_DIR", str(tmp_path / "one"))
    monkeypatch.setenv("METERR_COOKIE_KEY", "k")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = current_settings()
    assert first is current_settings()  # cached while the environment is the same
    monkeypatch.setenv("METERR_DATA_DIR", str(tmp_path / "two"))
    assert current_settings().data_dir == tmp_path / "two"
