"""Email: render a message from its .txt/.html templates, and send it over SMTP.

Messages are rendered when the change that causes them is committed (so each
says what was true then) and stored in the outbox, or stored as what a
feature's writer (``register_writer``) renders them from when they are sent;
``send`` delivers one.
Flask-Mail composes the MIME message and refuses header injection; the SMTP
conversation is ours so that it has a timeout (Flask-Mail opens SMTP with
none, and a mail server that accepts and then stays silent would hold a
worker forever).
"""

from __future__ import annotations

import base64
import email
import email.policy
import os
import re
import secrets
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template
from flask_mail import BadHeaderError, Message

from .timezones import utc_now

SMTP_TIMEOUT = 20  # seconds, for connecting and for each reply
# instance/mail/<UTC time>-<random>.eml: sortable by time, and nothing a request could steer into another folder.
SENT_FILE = re.compile(r"\d{8}T\d{6}\d{6}Z-[0-9a-f]{8}\.eml")


class PermanentFailure(Exception):
    """The message can never be delivered (the server refused it for good)."""


def compose(to: list[str], subject: str, template: str, attachments=(), **context) -> dict:
    """Render an email from templates/email/<template>.txt and .html into an outbox payload."""
    return {
        "to": list(to),
        "subject": subject,
        "text": render_template(f"email/{template}.txt", **context),
        "html": render_template(f"email/{template}.html", **context),
        "attachments": [
            {"filename": name, "content_type": content_type, "data": base64.b64encode(data).decode()}
            for name, content_type, data in attachments
        ],
    }


def register_writer(app, name: str, writer: Callable[[dict], dict]) -> None:
    """Let a feature write its emails when they are sent.

    A payload ``{"writer": name, "to": [...], ...}`` is handed to ``writer``,
    which returns the composed email (as ``compose`` does).
    """
    app.extensions.setdefault("mail-writers", {})[name] = writer


def _written(payload: dict) -> dict:
    """Return the composed email of a payload, writing it first if a feature's writer is to."""
    name = payload.get("writer")
    if name is None:
        return payload
    writer = current_app.extensions.get("mail-writers", {}).get(name)
    if writer is None:
        raise PermanentFailure(f"no writer for {name!r} emails")
    return writer(payload)


def _message(payload: dict) -> Message:
    config = current_app.config
    message = Message(
        subject=payload["subject"],
        recipients=payload["to"],
        body=payload["text"],
        html=payload["html"],
        sender=config["MAIL_DEFAULT_SENDER"],
    )
    for item in payload.get("attachments", []):
        message.attach(item["filename"], item["content_type"], base64.b64decode(item["data"]))
    return message


def send(payload: dict) -> None:
    """Send one composed email; raise PermanentFailure if it can never be delivered."""
    config = current_app.config
    message = _message(_written(payload))
    if message.has_bad_headers():
        raise PermanentFailure("a header contains a line break")
    try:
        raw = message.as_bytes()
    except BadHeaderError as error:
        raise PermanentFailure(f"bad header: {error}") from None
    except UnicodeEncodeError as error:
        raise PermanentFailure(f"an address cannot be written in a header: {error}") from None
    recipients = [_envelope_address(address) for address in message.send_to]
    if config["MAIL_TO_FILES"]:
        _write_to_folder(raw)
        return
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config.get("MAIL_USERNAME") and config.get("MAIL_PASSWORD"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            refused = smtp.sendmail(message.sender, recipients, raw)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentFailure(f"recipients refused: {_describe(error.recipients)}") from None
        raise
    except smtplib.SMTPResponseException as error:
        if error.smtp_code >= 500:
            raise PermanentFailure(f"{error.smtp_code} {_text(error.smtp_error)}") from None
        raise
    if refused:
        # Some recipients were accepted: the message went out; note the rest.
        current_app.logger.warning("mail partly refused: %s", _describe(refused))


def _envelope_address(address: str) -> str:
    """Return an address as SMTP can carry it: an internationalised domain in its ASCII (IDNA) form."""
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise PermanentFailure(f"{address!r} is not a valid address: {error}") from None
    return checked.ascii_email


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe(recipients: dict) -> str:
    return "; ".join(f"{address}: {code} {_text(reply)}" for address, (code, reply) in recipients.items())


# --- Development: messages written to instance/mail/ instead of sent ------------------------------------------------


@dataclass
class SentMessage:
    """A message the development server wrote instead of sending."""

    name: str
    sent_at: datetime
    to: str
    subject: str
    text: str


def mail_folder() -> str:
    """Return instance/mail/, where development writes the messages it would have sent."""
    return os.path.join(current_app.instance_path, "mail")


def _write_to_folder(raw: bytes) -> None:
    """Write one message as an .eml file that only the service's user can read (it holds manage links)."""
    folder = mail_folder()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    name = f"{utc_now().strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(4)}.eml"
    descriptor = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(raw)
    current_app.logger.info("mail written to %s (no MAIL_SERVER in development)", name)


def sent_messages(limit: int = 100) -> list[SentMessage]:
    """Return the newest messages written to instance/mail/, newest first."""
    folder = mail_folder()
    if not os.path.isdir(folder):
        return []
    names = sorted((name for name in os.listdir(folder) if SENT_FILE.fullmatch(name)), reverse=True)
    return [sent_message(name) for name in names[:limit]]


def sent_message(name: str) -> SentMessage:
    """Read one written message; raise FileNotFoundError for a name that is not one."""
    if not SENT_FILE.fullmatch(name):
        raise FileNotFoundError(name)
    with open(os.path.join(mail_folder(), name), "rb") as handle:
        parsed = email.message_from_binary_file(handle, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain", "html"))
    stamp = datetime.strptime(name[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
    return SentMessage(
        name=name,
        sent_at=stamp,
        to=str(parsed["To"] or ""),
        subject=str(parsed["Subject"] or ""),
        text=body.get_content() if body is not None else "",
    )
