"""Without a mail server, development writes each email to instance/mail/ and the admin shows it; production never."""

from __future__ import annotations

import email
import email.policy
import os
import stat

import pytest

from tests.support import Admin, book, deliver_outbox, make_app
from widget.extensions import db
from widget.models import OutboxMessage, OutboxStatus


@pytest.fixture
def dev_app(tmp_path):
    """Return an app with `make run`'s mail settings: development, no MAIL_SERVER."""
    return make_app(tmp_path, ENV="development", TESTING=False, MAIL_SERVER=None, MAIL_PORT="25")


def _written(app) -> list[str]:
    folder = os.path.join(app.instance_path, "mail")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _parsed(app, name: str):
    with open(os.path.join(app.instance_path, "mail", name), "rb") as handle:
        return email.message_from_binary_file(handle, policy=email.policy.default)


def test_development_without_a_mail_server_writes_each_email_as_an_eml_file(dev_app):
    client = dev_app.test_client()
    answer, manage = book(client)
    deliver_outbox(dev_app)
    names = _written(dev_app)
    messages = [_parsed(dev_app, name) for name in names]
    to_client = [m for m in messages if m["To"] == "ada@example.com"]
    to_therapist = [m for m in messages if m["To"] == "therapist@studio.example"]
    assert len(to_client) == 1 and len(to_therapist) == 1, [m["Subject"] for m in messages]
    confirmation = to_client[0]
    assert confirmation["Subject"].startswith("Booked: 60-minute massage")
    assert answer["manage_url"] in confirmation.get_body(preferencelist=("plain",)).get_content()
    attachments = [part.get_filename() for part in confirmation.iter_attachments()]
    assert any(name and name.endswith(".ics") for name in attachments)
    with dev_app.app_context():
        assert db.session.query(OutboxMessage).filter(OutboxMessage.status != OutboxStatus.SENT).count() == 0


def test_written_mail_is_readable_by_the_service_only(dev_app):
    book(dev_app.test_client())
    deliver_outbox(dev_app)
    folder = os.path.join(dev_app.instance_path, "mail")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for name in _written(dev_app):
        assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o600


def test_the_admin_lists_written_mail_and_shows_its_text(dev_app):
    client = dev_app.test_client()
    admin = Admin(dev_app, client)
    admin.set_password()
    answer, _ = book(client)
    deliver_outbox(dev_app)
    admin.login()
    agenda = client.get("/admin")
    assert "Sent mail (development)" in agenda.text
    listing = client.get("/admin/mail")
    assert listing.status_code == 200
    assert "<h1>Sent mail (development)</h1>" in listing.text
    assert "ada@example.com" in listing.text and "therapist@studio.example" in listing.text
    confirmation = next(name for name in _written(dev_app) if _parsed(dev_app, name)["To"] == "ada@example.com")
    shown = client.get(f"/admin/mail/{confirmation}")
    assert shown.status_code == 200
    assert answer["manage_url"] in shown.text
    assert shown.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", ["..%2Fsecret_key", "secret_key", "20261123T150000000000Z-zzzzzzzz.eml"])
def test_the_admin_shows_nothing_but_written_messages(dev_app, name):
    client = dev_app.test_client()
    admin = Admin(dev_app, client)
    admin.set_password()
    admin.login()
    assert client.get(f"/admin/mail/{name}").status_code == 404


def test_the_sent_mail_pages_need_the_therapist(dev_app):
    response = dev_app.test_client().get("/admin/mail")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_with_a_mail_server_development_sends_and_has_no_sent_mail_page(tmp_path, mailbox):
    app = make_app(tmp_path, ENV="development", TESTING=False, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mailbox.port))
    client = app.test_client()
    admin = Admin(app, client)
    admin.set_password()
    book(client)
    deliver_outbox(app)
    assert _written(app) == []
    assert any(message["To"] == "ada@example.com" for message in mailbox.messages)
    admin.login()
    assert client.get("/admin/mail").status_code == 404
    assert "Sent mail (development)" not in client.get("/admin").text


def test_production_never_writes_mail_to_disk(tmp_path):
    app = make_app(tmp_path, ENV="production", TESTING=False, MAIL_SERVER=None, MAIL_PORT="1", SECRET_KEY="x" * 40)
    assert app.config["MAIL_SERVER"] == "localhost"
    assert app.config["MAIL_TO_FILES"] is False
    book(app.test_client())
    deliver_outbox(app)
    assert _written(app) == []
    with app.app_context():
        # Nothing listens on port 1: the messages wait in the outbox for a retry, as ever.
        waiting = db.session.query(OutboxMessage).filter_by(kind="email", status=OutboxStatus.PENDING).count()
        assert waiting >= 2
