"""The booking widget service: a Flask application factory."""

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None):
    """Create and configure the app; ``test_config`` overrides settings."""
    # Imported here, not at the top: gunicorn.conf.py and the migrations import parts of the
    # package (settings, models) and should not load the whole app with them.
    from config import Config

    from . import assets, cache, cli, errors, outbox, pages, settings, signals
    from . import mail as email
    from .admin import google as admin_google
    from .admin import mailbox as admin_mailbox  # noqa: F401 - adds the admin's development mail pages
    from .admin import views as admin
    from .booking import (
        api,
        calendar_changes,
        calendar_sync,
        client_data,
        emails,
        free_times,
        manage,
        waitlist,
        waitlist_views,
    )
    from .booking import views as book
    from .booking.business import load_business
    from .calendars import backends, push
    from .comments import api as comment_api
    from .comments import views as comment_pages
    from .extensions import db, limiter, mail, migrate

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=os.path.join(BASE_DIR, "templates"),
        static_folder=os.path.join(BASE_DIR, "static"),
    )
    app.config.from_object(Config)
    if test_config is not None:
        app.config.from_mapping(test_config)
    settings.check(app)
    if app.config["TRUSTED_PROXIES"]:
        # Behind a proxy every request comes from the proxy: per-address rate limits need the client's address.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.extensions["business"] = load_business(app.config["BUSINESS_CONFIG"])

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(BASE_DIR, "migrations"))
    limiter.init_app(app)
    cache.init_app(app)
    free_times.init_app(app)
    mail.init_app(app)
    backends.init_app(app)
    errors.init_app(app)
    # Before pages: compression must run after the headers pages sets (see assets.init_app).
    assets.init_app(app)
    pages.init_app(app)
    outbox.init_app(app)
    outbox.register(app, "email", email.send)
    email.register_writer(app, emails.WRITER, emails.write)
    outbox.register(app, "calendar", calendar_sync.deliver)
    outbox.register(app, push.SYNC_KIND, calendar_changes.sync_pushed)
    outbox.register(app, client_data.ERASURE_KIND, client_data.finish_erasure)
    signals.calendar_lost.connect(emails.tell_calendar_lost)
    signals.time_freed.connect(waitlist.offer_freed_time)

    app.register_blueprint(pages.bp)
    app.register_blueprint(book.bp)
    app.register_blueprint(manage.bp)
    app.register_blueprint(waitlist_views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(comment_pages.bp)
    app.register_blueprint(comment_api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_google.oauth_bp)
    app.register_blueprint(push.bp)
    cli.init_app(app)
    return app
