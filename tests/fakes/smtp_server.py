"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives: for alert and report emails."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses the recipients it is told to."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.envelopes: list[Envelope] = []
        self.refuse = set(refuse)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        messages = []
        for envelope in self.envelopes:
            assert isinstance(envelope.content, bytes)  # decode_data=False: the raw bytes
            raw = envelope.content.replace(b"\r\n", b"\n")  # CRLF on the wire; LF as the sender wrote it
            messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return messages


@contextmanager
def smtp_server(mailbox: Mailbox, *, authenticator: Callable[..., Any] | None = None) -> Iterator[int]:
    """A real SMTP server on 127.0.0.1; an authenticator makes it require a password (plain text: loopback only)."""
    port = free_port()
    options: dict[str, Any] = (
        {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False} if authenticator else {}
    )
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
