"""Flask extensions, created unbound here and bound in ``create_app``."""

import sqlite3

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base class of every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
# Composes messages (widget.mail sends them, with a timeout Flask-Mail lacks).
mail = Mail()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# Execution option that makes a SQLite transaction take the write lock at once.
SQLITE_IMMEDIATE = "sqlite_immediate"


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record):
    """Give SQLite connections WAL, a busy timeout and explicit transactions."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # The driver's own implicit BEGIN is switched off so that the "begin" hook
    # below decides how each transaction starts (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection):
    """Start SQLite transactions, IMMEDIATE when the caller is about to write."""
    if connection.dialect.name != "sqlite":
        return
    # A deferred transaction that reads and then writes fails at once with
    # "database is locked" if another process wrote in between; taking the
    # write lock up front makes concurrent bookings queue instead.
    immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_writing() -> None:
    """End the session's current transaction and start one that will write.

    On SQLite a transaction that has read and then tries to write fails at
    once with "database is locked" whenever another process is writing, so
    every unit of work that writes starts here, taking the write lock before
    its first read.  Call it before changing anything: it commits what came
    before, which should be nothing.
    """
    db.session.commit()
    db.session.connection(execution_options={SQLITE_IMMEDIATE: True})
