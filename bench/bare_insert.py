"""The app as served, plus one bare route for bench/bookings.py: insert one row, commit, answer.

The table (bench_rows) is made by the benchmark; the route lives only here, never in the service.
"""

from sqlalchemy import text

from widget.extensions import db
from wsgi import app


@app.post("/bench/bare-insert")
def bare_insert():
    """Insert one row and commit: the least a write request can cost on this stack and database."""
    db.session.execute(text("INSERT INTO bench_rows (created_at) VALUES (now())"))
    db.session.commit()
    return {"ok": True}, 201
