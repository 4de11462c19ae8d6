"""Command-line tools: ``flask --app wsgi COMMAND``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from werkzeug.security import generate_password_hash

from .extensions import db
from .models import Setting

MIN_PASSWORD = 10


def set_admin_password(password: str) -> None:
    """Store a new admin password (as a hash); other sessions are signed out."""
    from .admin import PASSWORD_KEY

    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must be at least {MIN_PASSWORD} characters")
    row = db.session.get(Setting, PASSWORD_KEY) or Setting(key=PASSWORD_KEY)
    row.value = generate_password_hash(password)
    db.session.add(row)
    db.session.commit()


@click.command("set-admin-password")
@click.password_option("--password", help="The new password (asked for when left out).")
@with_appcontext
def set_admin_password_command(password):
    """Set the password of the therapist's admin pages."""
    try:
        set_admin_password(password)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--password") from None
    click.echo("Admin password set.")


def init_app(app) -> None:
    """Register the commands."""
    app.cli.add_command(set_admin_password_command)
