"""Choosing the calendar backend of an app."""

from __future__ import annotations


def init_app(app) -> None:
    """Create the configured backend and keep it on the app."""
    name = app.config["CALENDAR_BACKEND"]
    if name == "google":
        # Imported only when chosen: Google's client libraries are heavy and unused on the local calendar.
        from .google import GoogleCalendar

        app.extensions["calendar"] = GoogleCalendar(app)
    else:
        from .local import LocalCalendar

        app.extensions["calendar"] = LocalCalendar()
