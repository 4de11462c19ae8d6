"""A real SMTP server on 127.0.0.1 for the email tests."""

from __future__ import annotations

import asyncio
import email.policy
import threading
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller


class _Controller(Controller):
    """aiosmtpd's Controller, able to listen on a free port chosen by the system (port=0)."""

    def _trigger_server(self):
        # 1.4.6 keeps port=0 as given and then fails to connect to it: read the bound port back first.
        if self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _MailboxHandler:
    """The aiosmtpd handler of a Mailbox: refuses rejected recipients, keeps every message."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.mailbox.rejected.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mailbox.delay:
            await asyncio.sleep(self.mailbox.delay)
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        self.mailbox._received(message, list(envelope.rcpt_tos))
        return "250 2.0.0 Message accepted for delivery"


class Mailbox:
    """A real SMTP server on 127.0.0.1 that keeps what it receives.

    ``messages[i]`` is an EmailMessage and ``recipients[i]`` its envelope
    recipients (RCPT TO).  ``stop()`` and ``start()`` take the server down and
    bring it back on the same port; ``delay`` makes each DATA answer that many
    seconds late, like a real server's latency.
    """

    def __init__(self):
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.rejected: dict[str, str] = {}
        self.delay = 0.0
        self._controller: _Controller | None = None
        self._changed = threading.Condition()

    def start(self) -> None:
        if self._controller is not None:
            return
        handler = _MailboxHandler(self)
        controller = _Controller(handler, hostname="127.0.0.1", port=self.port, server_hostname="mailbox.test")
        controller.start()
        self.port, self._controller = controller.port, controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reject(self, address: str, code: int = 550, text: str | None = None) -> None:
        """Answer RCPT TO for this address with an error (5xx: for good, 4xx: try later)."""
        if text is None:
            text = "5.1.1 no such user" if code >= 500 else "4.2.1 mailbox busy, try again later"
        self.rejected[address.lower()] = f"{code} {text}"

    def accept(self, address: str) -> None:
        """Stop rejecting an address."""
        self.rejected.pop(address.lower(), None)

    def _received(self, message: EmailMessage, recipients: list[str]) -> None:
        with self._changed:
            self.messages.append(message)
            self.recipients.append(recipients)
            self._changed.notify_all()

    def received_by(self, address: str) -> list[EmailMessage]:
        """Return the messages whose envelope named this recipient."""
        with self._changed:
            return [m for m, to in zip(self.messages, self.recipients, strict=True) if address in to]

    def wait_for(self, count: int, timeout: float = 5) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                subjects = [m["Subject"] for m in self.messages]
                raise AssertionError(f"expected {count} messages within {timeout} s, got {subjects}")
            return list(self.messages)
