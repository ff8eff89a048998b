"""Secrets at rest (provider admin keys, webhook secrets): AES-256-GCM, bound to where they belong.

The key comes from METERR_SECRET_KEY (base64 of 32 bytes) or is generated once into data/.secret_key with
owner-only permissions. Each sealed value names its context (workspace and connection) as associated data,
so a ciphertext copied into another workspace's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class SecretError(ValueError):
    """A sealed secret that cannot be opened: wrong key, wrong place, or tampered with."""


def decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SecretError("METERR_SECRET_KEY must be base64 of 32 random bytes (see the README)") from exc
    if len(key) != 32:
        raise SecretError(f"METERR_SECRET_KEY must decode to 32 bytes, not {len(key)}")
    return key


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class SecretBox:
    """Seals and opens short secrets with one key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str, *, context: str) -> str:
        version, _, body = token.partition(":")
        if version != _VERSION or not body:
            raise SecretError("this stored secret is not in a format meterr knows")
        try:
            raw = base64.urlsafe_b64decode(body)
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SecretError(
                "this stored secret cannot be opened: the secret key changed, or the value was altered; "
                "enter the credential again"
            ) from exc


def hint(secret: str) -> str:
    """What may be shown back of a secret: its last four characters."""
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"


def connection_context(workspace_id: int, connection_id: int) -> str:
    return f"meterr:workspace={workspace_id}:connection={connection_id}"
