"""gunicorn's settings file, read from the directory gunicorn starts in.

It adds one check before any worker starts: in production, several workers
need REDIS_URL, or each would count rate limits on its own.
"""

from config import Config
from widget.settings import check_workers


def on_starting(server):
    """Stop gunicorn with the reason when the worker count and the settings disagree."""
    settings = {name: getattr(Config, name) for name in dir(Config) if name.isupper()}
    check_workers(settings, server.cfg.workers)
