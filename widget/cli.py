"""Command-line tools: ``flask --app wsgi COMMAND``."""

from __future__ import annotations

import json
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.security import generate_password_hash

from . import outbox, wakeup
from .admin.views import PASSWORD_KEY, end_sessions
from .booking import client_data
from .booking.calendar_changes import claim_sync_round, sync_all
from .booking.reminders import queue_reminders
from .booking.waitlist import purge_expired
from .calendars import push
from .comments import moderation, queries
from .comments.wordpress import ImportProblem, import_wordpress
from .extensions import begin_writing, db
from .models import Setting
from .timezones import utc_now

MIN_PASSWORD = 10


def set_admin_password(password: str) -> None:
    """Store a new admin password (as a hash); every session is signed out."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must be at least {MIN_PASSWORD} characters")
    begin_writing()
    row = db.session.get(Setting, PASSWORD_KEY) or Setting(key=PASSWORD_KEY)
    row.value = generate_password_hash(password)
    db.session.add(row)
    end_sessions()
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


def run_jobs_once(worker: str | None = None) -> dict:
    """Do one round of background work: channels, calendar sync, reminders, retention, waitlist expiry, delivery."""
    channels = push.keep_watching()
    synced = {}
    if claim_sync_round(current_app.config["CALENDAR_SYNC_MINUTES"]):
        synced = {f"calendar {outcome}": count for outcome, count in sync_all().items()}
    reminders = queue_reminders()
    anonymised = client_data.anonymise_expired()
    expired = purge_expired()
    outcomes = outbox.deliver_due(worker=worker)
    return {
        **channels,
        **synced,
        "reminders_queued": reminders,
        "bookings_anonymised": anonymised,
        "waitlist_expired": expired,
        **outcomes,
    }


@click.command("sync-calendar")
@with_appcontext
def sync_calendar_command():
    """Follow the changes made in Google Calendar now: deleted or moved bookings, other busy events."""
    outcome = sync_all()
    summary = ", ".join(f"{key}: {value}" for key, value in sorted(outcome.items()) if value)
    click.echo(f"sync-calendar: {summary or 'nothing changed'}")


def _summary(outcome: dict) -> str:
    return ", ".join(f"{key}: {value}" for key, value in sorted(outcome.items()) if value)


def _guarded(step, *args) -> dict:
    """Run one step of the jobs loop; a failure is logged and the loop goes on."""
    try:
        return step(*args)
    except Exception as error:  # noqa: BLE001 - a loop that dies silently is worse; log and go on
        db.session.rollback()
        current_app.logger.exception("run-jobs round failed")
        return {"error": str(error)}


def deliver_outbox(worker: str) -> dict:
    """Deliver the outbox rows that are due (the step run whenever the runner is woken)."""
    return dict(outbox.deliver_due(worker=worker))


@click.command("run-jobs")
@click.option("--once", is_flag=True, help="Do one round and exit (for cron).")
@click.option("--interval", type=click.IntRange(1, 3600), help="Seconds between rounds (default: JOBS_INTERVAL).")
@with_appcontext
def run_jobs_command(once, interval):
    """Deliver the outbox (emails, calendar writes) as soon as it fills, queue reminders, sync the calendar.

    Loops until stopped, or does one round with --once.  Between rounds it
    delivers the outbox whenever a change wakes it, and every
    JOBS_POLL_SECONDS at the latest.
    """
    interval = interval or current_app.config["JOBS_INTERVAL"]
    worker = outbox.worker_name()
    listener = wakeup.Listener(current_app._get_current_object())
    next_round = 0.0
    try:
        while True:
            if time.monotonic() >= next_round:
                next_round = time.monotonic() + interval
                click.echo(f"run-jobs: {_summary(_guarded(run_jobs_once, worker)) or 'nothing to do'}")
            else:
                summary = _summary(_guarded(deliver_outbox, worker))
                if summary:
                    click.echo(f"run-jobs: {summary}")
            if once:
                return
            listener.wait()
    finally:
        listener.close()


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def import_summary(counts: dict) -> str:
    """Say in one paragraph what an import did."""
    site = counts["site"] or "no site named"
    statuses = f"{counts['published']} published, {counts['held']} held for approval, {counts['spam']} spam"
    lines = [f"Imported {_plural(counts['imported'], 'comment')} from WordPress ({site}): {statuses}."]
    if counts["already_imported"]:
        lines.append(f"{_plural(counts['already_imported'], 'comment was', 'comments were')} already imported.")
    skipped = []
    if counts["skipped_trash"]:
        skipped.append(f"{_plural(counts['skipped_trash'], 'comment')} in the trash")
    if counts["skipped_pingbacks"]:
        skipped.append(_plural(counts["skipped_pingbacks"], "pingback or trackback", "pingbacks and trackbacks"))
    if counts["skipped_other"]:
        skipped.append(
            f"{_plural(counts['skipped_other'], 'non-comment entry', 'non-comment entries')} (editorial notes and such)"
        )
    if counts["skipped_pages"]:
        origins = ", ".join(counts["refused_origins"])
        skipped.append(
            f"the comments of {_plural(counts['skipped_pages'], 'post')} on sites comments are not open for "
            f"({origins}; add them to EMBED_ALLOWED_ORIGINS and run the import again to take them)"
        )
    if skipped:
        lines.append("Skipped " + "; ".join(skipped) + ".")
    if counts["refused"]:
        lines.append(
            f"Refused {_plural(len(counts['refused']), 'comment')} that break the comment rules, "
            "listed below by WordPress comment id; their replies were kept."
        )
    lines.append("No emails were sent.")
    return " ".join(lines)


def refusal_lines(counts: dict) -> list[str]:
    """Name each comment an import refused, with the reason."""
    return [f"  comment {each['id']} on {each['page']}: {each['reason']}" for each in counts["refused"]]


@click.command("import-wordpress")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_wordpress_command(file):
    """Import the comments of a WordPress export (WXR) FILE.

    Approved comments are published, held ones wait for approval, spam stays
    spam; trash, pingbacks and trackbacks are skipped, and so are posts on
    sites not in EMBED_ALLOWED_ORIGINS.  Replies keep their threads.  Comments
    that break the rules of comments posted here (length, control characters,
    an impossible date) are refused and listed.  Running it again imports
    only comments not imported before.  Nothing is written unless the whole
    file is read.
    """
    try:
        counts = import_wordpress(file)
    except ImportProblem as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(import_summary(counts))
    for line in refusal_lines(counts):
        click.echo(line)


def comments_export() -> dict:
    """Return every comment with everything stored about it, and when the export was made."""
    return {"exported_at": utc_now().isoformat(), "comments": queries.export_all()}


@click.command("export-comments")
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True), help="The file to write (default: standard output)."
)
@with_appcontext
def export_comments_command(output):
    """Write every comment, email addresses included, as JSON: for a backup or a move."""
    export = comments_export()
    data = (json.dumps(export, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if output is None:
        click.echo(data, nl=False)  # bytes: written as they are, UTF-8 whatever the terminal
        return
    # Atomic: an interrupted export never leaves half a backup under the name asked for.
    with click.open_file(output, "wb", atomic=True) as file:
        file.write(data)
    click.echo(f"Exported {_plural(len(export['comments']), 'comment')} to {output}.")


def _email_address(_ctx, _param, value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or not domain or any(ch.isspace() for ch in value):
        raise click.BadParameter(f"{value!r} is not an email address (like ada@example.com)")
    return value


@click.command("erase-commenter")
@click.argument("email", callback=_email_address)
@click.option("--remove", is_flag=True, help="Delete their comments instead (those with replies are blanked).")
@with_appcontext
def erase_commenter_command(email, remove):
    """Forget a commenter's EMAIL: their comments become Anonymous, without email or website.

    With --remove their comments are deleted; one that has replies is
    blanked instead, so the replies keep their place.
    """
    count = moderation.erase_commenter(email, remove)
    if not count:
        click.echo("No comments have that email address; nothing changed.")
    elif remove:
        click.echo(f"Removed {_plural(count, 'comment')} (any with replies are blanked, keeping the replies).")
    else:
        click.echo(f"Anonymised {_plural(count, 'comment')}: the address, name and website are gone.")


@click.command("erase-client")
@click.argument("email", callback=_email_address)
@click.option("--keep-future", is_flag=True, help="Keep her upcoming bookings (and her details on them).")
@with_appcontext
def erase_client_command(email, keep_future):
    """Erase a client's EMAIL: her past bookings are anonymised, her upcoming ones cancelled with the usual emails.

    The bookings stay for the studio's books, without name, email, phone,
    notes or answers; calendar events are blanked to match, and emails about
    her go from the outbox once sent.  With --keep-future her upcoming
    bookings are left as they are.
    """
    counts = client_data.erase_client(email, keep_future=keep_future)
    if not any(counts.values()):
        click.echo("No bookings have that email address; nothing changed.")
        return
    click.echo(
        f"Cancelled {_plural(counts['cancelled'], 'upcoming booking')} (the client and the therapist are emailed), "
        f"anonymised {_plural(counts['anonymised'], 'booking')}, kept {_plural(counts['kept'], 'upcoming booking')}, "
        f"removed {_plural(counts['waitlist'], 'waitlist entry', 'waitlist entries')}."
    )


def _day(_ctx, param, value):
    return None if value is None else value.date()


@click.command("export-bookings")
@click.option(
    "--from", "first", type=click.DateTime(["%Y-%m-%d"]), callback=_day, help="First studio day (YYYY-MM-DD)."
)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), callback=_day, help="Last studio day (YYYY-MM-DD).")
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True), help="The file to write (default: standard output)."
)
@with_appcontext
def export_bookings_command(first, last, output):
    """Write the bookings as CSV (UTF-8, studio time, one row a booking, intake answers as columns)."""
    if first and last and first > last:
        raise click.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    text, count = client_data.export_csv(first, last)
    data = text.encode("utf-8")
    if output is None:
        click.echo(data, nl=False)  # bytes: written as they are, UTF-8 whatever the terminal
        return
    with click.open_file(output, "wb", atomic=True) as file:
        file.write(data)
    click.echo(f"Exported {_plural(count, 'booking')} to {output}.")


def init_app(app) -> None:
    """Register the commands."""
    app.cli.add_command(set_admin_password_command)
    app.cli.add_command(run_jobs_command)
    app.cli.add_command(sync_calendar_command)
    app.cli.add_command(import_wordpress_command)
    app.cli.add_command(export_comments_command)
    app.cli.add_command(erase_commenter_command)
    app.cli.add_command(erase_client_command)
    app.cli.add_command(export_bookings_command)
