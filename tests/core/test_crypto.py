import base64
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core import queries
from core.crypto import SecretBox, SecretError, connection_context, decode_key, hint, new_key_text
from core.db import session_scope
from core.settings import load_settings

PLAINTEXT = "sk-admin-PLAINTEXT-never-stored-7f3a"


def box() -> SecretBox:
    return SecretBox(decode_key(new_key_text()))


def test_sealed_secrets_open_only_in_their_place_with_their_key() -> None:
    one = box()
    sealed = one.seal(PLAINTEXT, context="ws=1")
    assert PLAINTEXT not in sealed and sealed.startswith("v1:")
    assert one.open(sealed, context="ws=1") == PLAINTEXT
    assert one.seal(PLAINTEXT, context="ws=1") != sealed  # a fresh nonce every time
    with pytest.raises(SecretError):
        one.open(sealed, context="ws=2")  # copied into another workspace
    with pytest.raises(SecretError):
        box().open(sealed, context="ws=1")  # another key
    raw = bytearray(base64.urlsafe_b64decode(sealed[3:]))
    raw[-1] ^= 1
    with pytest.raises(SecretError):
        one.open("v1:" + base64.urlsafe_b64encode(bytes(raw)).decode(), context="ws=1")
    with pytest.raises(SecretError):
        one.open("not-a-secret", context="ws=1")


@pytest.mark.parametrize("bad", ["not base64 !!", base64.urlsafe_b64encode(b"short").decode()])
def test_bad_keys_are_explained(bad: str) -> None:
    with pytest.raises(SecretError, match="METERR_SECRET_KEY"):
        decode_key(bad)


def test_hint_shows_only_the_last_four() -> None:
    assert hint(PLAINTEXT) == "…7f3a"
    assert hint("short") == "…"


def test_generated_secret_key_is_owner_only_and_32_bytes(tmp_path: Path) -> None:
    settings = load_settings({}, root=tmp_path)
    assert len(decode_key(settings.secret_key)) == 32
    assert stat.S_IMODE((tmp_path / "data" / ".secret_key").stat().st_mode) == 0o600
    assert load_settings({}, root=tmp_path).secret_key == settings.secret_key


def test_the_database_never_holds_the_plaintext(engine: Engine, workspace_id: int, db_url: str) -> None:
    secrets_box = box()
    with session_scope(engine) as session:
        connection = queries.create_connection(
            session, workspace_id=workspace_id, provider="OpenAI", method="api_key", name="OpenAI admin key"
        )
        queries.save_connection_secret(session, connection=connection, secret=PLAINTEXT, box=secrets_box)
        connection_id = connection.id
    assert connection_id is not None
    with session_scope(engine) as session:
        assert (
            queries.load_connection_secret(
                session, workspace_id=workspace_id, connection_id=connection_id, box=secrets_box
            )
            == PLAINTEXT
        )
        with pytest.raises(queries.NotFound):
            queries.load_connection_secret(
                session, workspace_id=workspace_id + 1, connection_id=connection_id, box=secrets_box
            )
        stored = session.execute(text("SELECT secret_ciphertext, secret_hint FROM connection")).one()
    assert PLAINTEXT not in stored[0] and stored[1] == "…7f3a"
    assert secrets_box.open(stored[0], context=connection_context(workspace_id, connection_id)) == PLAINTEXT
    if db_url.startswith("sqlite"):
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(db_url.removeprefix("sqlite:///"))
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                assert PLAINTEXT.encode() not in file.read_bytes(), file
