"""Command-line tools: ``flask --app wsgi COMMAND``."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext
from werkzeug.security import generate_password_hash

from .extensions import begin_writing, db
from .models import Setting

MIN_PASSWORD = 10


def set_admin_password(password: str) -> None:
    """Store a new admin password (as a hash); other sessions are signed out."""
    from .admin import PASSWORD_KEY

    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must be at least {MIN_PASSWORD} characters")
    begin_writing()
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


@click.command("run-jobs")
@click.option("--once", is_flag=True, help="Do one round and exit (for cron).")
@click.option("--interval", type=click.IntRange(1, 3600), help="Seconds between rounds (default: JOBS_INTERVAL).")
@with_appcontext
def run_jobs_command(once, interval):
    """Deliver the outbox (emails), queue reminders; loop until stopped, or --once."""
    from flask import current_app

    from . import jobs

    interval = interval or current_app.config["JOBS_INTERVAL"]
    worker = jobs.worker_name()
    while True:
        try:
            outcome = jobs.run_once(worker)
        except Exception as error:  # noqa: BLE001 - a loop that dies silently is worse; log and go on
            db.session.rollback()
            current_app.logger.exception("run-jobs round failed")
            outcome = {"error": str(error)}
        summary = ", ".join(f"{key}: {value}" for key, value in sorted(outcome.items()) if value)
        click.echo(f"run-jobs: {summary or 'nothing to do'}")
        if once:
            return
        time.sleep(interval)


def init_app(app) -> None:
    """Register the commands."""
    app.cli.add_command(set_admin_password_command)
    app.cli.add_command(run_jobs_command)
