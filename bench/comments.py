"""Compare our comments endpoints with Isso 0.14 served the same way on this machine.

Both run under gunicorn 27.0.1 with the same worker count (2 sync workers by default), each on its own
free port on 127.0.0.1, each with a fresh SQLite database holding the same 50-comment thread on one
article (40 comments on the article, 10 replies; 200-600 characters of text with a link or two).

- Ours: migrations applied to a temporary database, the thread inserted directly as published
  comments; WIDGET_ENV=production, EMBED_ALLOWED_ORIGINS=https://studio.example,
  COMMENT_RATE_LIMIT="100000 per minute", REDIS_URL (production requires it with more than one
  worker; comments use it only for the rate limit).
- Isso 0.14.0 from PyPI, installed into bench/.venv-isso (created on first run, never in the project's
  requirements); moderation off, guard on with limits no test reaches; the thread posted through its
  API.  Isso checks that its site answers when it starts and fetches an article to name a new thread;
  the app is loaded through a small module that turns those fetches into "no answer", so nothing
  leaves 127.0.0.1 (posts carry a title, so a thread never needs the fetch).

A load generator in a separate process (Python threads, raw sockets) keeps a fixed number of requests
in flight (8), discards a warm-up, then measures; the measurements take turns, three rounds of each, so
whatever else the machine does falls on all of them alike.  It measures:

1. the thread: ours GET /api/comments?page=... (JSON) and GET /comments?page=... (the iframe page,
   HTML with the form), Isso GET /?uri=/blog/post (its JSON; Isso renders markdown on every read);
2. posting: ours POST /api/comments with a form token shown more than 3 s earlier and the address of
   a commenter already published (so each comment publishes at once), Isso POST /new; every body is
   distinct (no duplicate refusals) and has at most one link (no hold).  What the posts became is
   read back from each database afterwards.

gunicorn's sync workers close the connection after every answer, so each request opens a new one
(the same for both).  Goal (from the issue): reading our thread at least 3x Isso's requests/s.
The exit status is 1 when it is not met.

A third server runs ours as deployed, taking the same turns: the same app and thread on PostgreSQL,
with Redis (REDIS_URL: rate limits and caches).  Isso stays on SQLite, its only store.  Its figures
are extra lines and rows, against the same goal; they do not change the exit status.  Written:
bench/results/comments.json (every ratio, both stores).

Run from the repository root (PostgreSQL and Redis for the third server):

    .venv/bin/python bench/comments.py [--rounds 3] [--seconds 4] [--warmup 1] [--concurrency 8] [--workers 2]
        [--postgres URL] [--redis URL]

The PostgreSQL database ``<name>_comments`` of --postgres (default BENCH_POSTGRES_URL, else bench) is
emptied and created as needed; the Redis database of --redis (default BENCH_REDIS_URL, else db 14)
is flushed.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import venv
from collections import Counter
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote

# Run as a script, Python puts bench/ on the path, not the repository root.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ISSO_VERSION = "0.14.0"
GUNICORN_VERSION = "27.0.1"
ISSO_VENV = ROOT / "bench" / ".venv-isso"
OURS_GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"

ORIGIN = "https://studio.example"
ARTICLE_PATH = "/blog/post"
ARTICLE = ORIGIN + ARTICLE_PATH
TITLE = "Why your shoulders tighten at the desk"
GOAL_RATIO = 3.0
RESULTS = ROOT / "bench" / "results" / "comments.json"
LOOPBACK = "127.0.0.1"

# -- The thread ---------------------------------------------------------------------------------------------------

SENTENCES = [
    "I started getting massages after a winter of back-to-back deadlines and it changed how I sit at my desk.",
    "The tip about rolling the shoulders back every half hour sounds too simple, but it really helps.",
    "My physiotherapist said almost the same thing about the upper trapezius and the way we hunch at screens.",
    "Does the 60-minute session leave enough time for both the neck and the lower back?",
    "I booked the deep tissue massage last month and could turn my head properly for the first time in weeks.",
    "A standing desk helped me a little, but only once I stopped locking my knees all afternoon.",
    "Thank you for writing this up in plain words instead of the usual wellness jargon.",
    "I would love a follow-up post on stretches for people who drive a lot for work.",
    "The part about breathing into the ribs surprised me; I never connected that to shoulder tension.",
    "Heat before a session or after? I have read both and the advice seems to change every year.",
    "My partner laughed at me for setting a reminder to drop my shoulders, and now he does it too.",
    "I tried the doorway stretch from the article and felt it right between the shoulder blades.",
    "After two sessions the headaches I used to get on Thursday afternoons have mostly gone away.",
    "Is there anything you recommend for someone who already has a frozen shoulder on one side?",
    "Monitor height was my problem: raising the screen by ten centimetres did more than any pillow.",
    "The studio is lovely and the online booking worked perfectly from my phone.",
    "I appreciate that you mention when to see a doctor instead of pretending massage fixes everything.",
    "We passed this article around the office and now three of us have appointments booked.",
    "My chiropractor recommended the same chin tuck exercise; good to see it here with a clear explanation.",
    "How long should the effect of a single session last if I go back to the same posture afterwards?",
    "Sleeping on my stomach turned out to be half of the problem, which nobody had told me before.",
    "I keep a tennis ball at my desk now for the spot under the shoulder blade; cheap and it works.",
    "Would the hot stone massage be a good idea for someone with low blood pressure?",
    "The illustration of the muscles made it click for me, thank you for including it.",
]
LINKS = [
    "https://studio.example/blog/desk-stretches",
    "https://studio.example/services/deep-tissue",
    "https://www.nhs.uk/live-well/exercise/strength-and-flexibility-exercises/",
    "https://en.wikipedia.org/wiki/Trapezius_muscle",
    "https://studio.example/blog/sleep-and-neck-pain",
    "https://www.osha.gov/etools/computer-workstations/positions",
]
# Fill the last few characters of a comment's length.
SHORT_SENTENCES = ["Great read.", "Thanks again!", "Same here.", "Looking forward to the next post."]
LINK_PHRASES = ["This helped me too: {} .", "There is more about it here: {}", "(See {} for the stretches.)"]
NAMES = [
    "Maya Rivera",
    "Tom Becker",
    "Priya Natarajan",
    "Jonas Lindqvist",
    "Aisha Bello",
    "Carlos Mendes",
    "Hannah Kim",
    "Luca Ferrari",
    "Grace O'Neill",
    "Samir Haddad",
    "Emily Novak",
    "Daniel Okafor",
    "Sofia Petrova",
    "Ben Carter",
    "Yuki Tanaka",
    "Laura Schmidt",
    "Kwame Mensah",
    "Chloe Martin",
    "Ivan Horvat",
    "Nora Quinn",
]
TOP_LEVEL, REPLIES = 40, 10
# Who posts during the POST run: a commenter already in the thread, so our rules publish at once.
POSTER = 0


def email_of(name: str) -> str:
    """Return the made-up address of a commenter."""
    return name.lower().replace(" ", ".").replace("'", "") + "@example.net"


def comment_text(rng: random.Random, links: int, tag: str = "") -> str:
    """Return 200-600 characters of comment text in two paragraphs, with ``links`` addresses in it."""
    extras = [rng.choice(LINK_PHRASES).format(link) for link in rng.sample(LINKS, links)]
    room = rng.randint(215, 600) - sum(len(extra) + 1 for extra in extras) - len(tag)
    sentences: list[str] = []
    for sentence in rng.sample(SENTENCES, len(SENTENCES)) + SHORT_SENTENCES:
        if not sentences or sum(len(s) + 1 for s in sentences) + len(sentence) <= room:
            sentences.append(sentence)
    for extra in extras:
        sentences.insert(rng.randint(1, len(sentences)), extra)
    middle = (len(sentences) + 1) // 2
    return " ".join(sentences[:middle]) + "\n\n" + " ".join(sentences[middle:] + ([tag] if tag else []))


@dataclass
class Seeded:
    author: str
    email: str
    text: str
    parent: int | None  # index in the thread of the comment answered


def thread_comments() -> list[Seeded]:
    """Return the 50 comments both servers start with: 40 on the article, then 10 replies to earlier ones."""
    rng = random.Random(2026)
    thread = []
    for index in range(TOP_LEVEL + REPLIES):
        name = NAMES[index % len(NAMES)]
        parent = None if index < TOP_LEVEL else rng.randrange(TOP_LEVEL)
        thread.append(Seeded(name, email_of(name), comment_text(rng, 1 + index % 2), parent))
    return thread


def post_text(worker: int, number: int) -> str:
    """Return the distinct text of one comment posted during the POST run (one link at most: none is held)."""
    rng = random.Random(worker * 1_000_003 + number)
    return comment_text(rng, number % 2, tag=f"(Posted from bench worker {worker}, comment {number}.)")


# -- Our service --------------------------------------------------------------------------------------------------


def ours_environment(database: str, redis: str | None = None) -> dict[str, str]:
    """Return the environment our gunicorn runs with: the bench's settings, none inherited from the shell.

    ``database`` is a SQLite file, or a database URL; ``redis`` a Redis URL, when the server has one.
    """
    from config import Config

    settings = {name for name in vars(Config) if name.isupper()} | {"WIDGET_ENV"}
    env = {name: value for name, value in os.environ.items() if name not in settings}
    env.update(
        {
            "WIDGET_ENV": "production",
            "SECRET_KEY": "comments-bench-" + "k" * 40,
            "DATABASE_URL": database if "://" in database else f"sqlite:///{database}",
            "EMBED_ALLOWED_ORIGINS": ORIGIN,
            "COMMENT_RATE_LIMIT": "100000 per minute",
            "PUBLIC_URL": "http://127.0.0.1:5000",
            "MAIL_SERVER": LOOPBACK,
            "MAIL_PORT": "1",
        }
    )
    if redis:
        env["REDIS_URL"] = redis
    return env


def empty_postgres(url: str) -> None:
    """Create the PostgreSQL database if it is missing, and empty it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
        if exists.scalar() is None:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def seed_ours(database: str) -> int:
    """Create our database with migrations and insert the thread as published comments; return its size."""
    from flask_migrate import upgrade

    from widget import create_app
    from widget.comments.render import render
    from widget.comments.urls import normalise_page
    from widget.extensions import db
    from widget.models import Comment, CommentStatus

    env = ours_environment(database)
    app = create_app({name: env[name] for name in ("SECRET_KEY", "DATABASE_URL", "EMBED_ALLOWED_ORIGINS")})
    with app.app_context():
        upgrade()
        page = normalise_page(ARTICLE)
        start = datetime.now(timezone.utc) - timedelta(days=10)
        stored: list[Comment] = []
        for index, seeded in enumerate(thread_comments()):
            at = start + timedelta(minutes=37 * index)
            parent = stored[seeded.parent].id if seeded.parent is not None else None
            comment = Comment(
                page=page,
                parent_id=parent,
                reply_to_id=parent,
                status=CommentStatus.PUBLISHED,
                author=seeded.author,
                email=seeded.email,
                body=seeded.text,
                body_html=render(seeded.text),
                created_at=at,
                published_at=at,
            )
            db.session.add(comment)
            db.session.flush()
            stored.append(comment)
        db.session.commit()
        db.engine.dispose()
    return len(stored)


def ours_outcomes(database: str, after: int) -> Counter:
    """Count the comments posted after the seeded ones by status (``database``: a SQLite file or a URL)."""
    if "://" in database:
        from sqlalchemy import create_engine, text

        engine = create_engine(database)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status, count(*) FROM comments WHERE id > :after GROUP BY status"), {"after": after}
            )
            found = Counter({str(status): n for status, n in rows})
        engine.dispose()
        return found
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT status, count(*) FROM comments WHERE id > ? GROUP BY status", (after,))
        return Counter(dict(rows.fetchall()))


def form_token(port: int) -> str:
    """Fetch the iframe page and return the form token it carries."""
    html = request(port, "GET", "/comments?page=" + quote(ARTICLE, safe=""))[1].decode()
    found = re.search(r'name="form_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="form_token"', html
    )
    if not found:
        raise SystemExit("comments bench: no form_token in our iframe page")
    return found.group(1)


# -- Isso ---------------------------------------------------------------------------------------------------------

ISSO_CONFIG = """\
[general]
dbpath = {dbpath}
host = {origin}
max-age = 15m
notify = stdout
reply-notifications = false
gravatar = false
latest-enabled = false

[admin]
enabled = false

[moderation]
enabled = false

[server]
listen = http://{loopback}:{port}
public-endpoint = http://{loopback}:{port}

[guard]
enabled = true
ratelimit = 1000000
direct-reply = 1000000
reply-to-self = true
require-author = false
require-email = false

[markup]
renderer = mistune

[hash]
salt = Eech7co8Ohloopo9Ol6baimi
algorithm = pbkdf2
"""

# Loaded by gunicorn instead of isso.run: Isso's outgoing requests (the start-up check that the site
# answers, the fetch of an article's title for a new thread) get "no answer" without leaving the machine.
ISSO_ENTRY = '''\
"""isso.run's application, with Isso's outgoing HTTP requests answered "no answer" locally."""

from isso.utils import http


class _NoAnswer:
    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


http.curl = _NoAnswer

from isso.run import application  # noqa: E402,F401
'''


def ensure_isso() -> Path:
    """Install Isso and gunicorn into bench/.venv-isso unless the right versions are there; return its gunicorn."""
    python, gunicorn = ISSO_VENV / "bin" / "python", ISSO_VENV / "bin" / "gunicorn"
    check = "import importlib.metadata as m; print(m.version('isso'), m.version('gunicorn'))"
    if python.exists() and gunicorn.exists():
        found = subprocess.run([python, "-c", check], capture_output=True, text=True)  # noqa: S603
        if found.stdout.split() == [ISSO_VERSION, GUNICORN_VERSION]:
            return gunicorn
    print(f"installing isso=={ISSO_VERSION} and gunicorn=={GUNICORN_VERSION} into {ISSO_VENV} ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(ISSO_VENV)
    install = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [*install, f"isso=={ISSO_VERSION}", f"gunicorn=={GUNICORN_VERSION}"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"comments bench: installing Isso failed:\n{done.stdout}{done.stderr}")
    return gunicorn


def isso_files(python: Path, folder: Path, port: int) -> dict[str, str]:
    """Write isso.cfg and the entry module into ``folder``, create Isso's database; return Isso's environment."""
    config = folder / "isso.cfg"
    config.write_text(
        ISSO_CONFIG.format(dbpath=folder / "isso.db", origin=ORIGIN, loopback=LOOPBACK, port=port), encoding="utf-8"
    )
    (folder / "isso_bench_entry.py").write_text(ISSO_ENTRY, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("ISSO_SETTINGS", "PYTHONPATH", "PYTHONHOME")}
    env["ISSO_SETTINGS"] = str(config)
    # Isso creates its database when the app loads; two workers loading it at once into a new file
    # race (UNIQUE constraint failed: preferences.key), so load it once here first.
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [python, "-c", "import isso_bench_entry"], cwd=folder, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"comments bench: Isso could not create its database:\n{done.stderr[-3000:]}")
    return env


def isso_post_body(author: str, email: str, text: str, parent: int | None = None) -> bytes:
    """Return the JSON Isso's client posts to /new."""
    return json.dumps(
        {"text": text, "author": author, "email": email, "website": None, "parent": parent, "title": TITLE}
    ).encode()


ISSO_NEW = "/new?uri=" + quote(ARTICLE_PATH, safe="")


def seed_isso(port: int) -> int:
    """Post the thread through Isso's API; return how many comments it took."""
    ids: list[int] = []
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    for seeded in thread_comments():
        parent = ids[seeded.parent] if seeded.parent is not None else None
        status, body = request(
            port, "POST", ISSO_NEW, isso_post_body(seeded.author, seeded.email, seeded.text, parent), headers
        )
        if status != 201:
            raise SystemExit(f"comments bench: Isso refused a seed comment ({status}): {body[:300]!r}")
        ids.append(json.loads(body)["id"])
    return len(ids)


def isso_outcomes(database: Path, after: int) -> Counter:
    """Count the comments posted after the seeded ones: mode 1 is published, 2 waits for moderation."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT mode, count(*) FROM comments WHERE id > ? GROUP BY mode", (after,))
        names = {1: "published", 2: "pending", 4: "deleted"}
        return Counter({names.get(mode, f"mode {mode}"): n for mode, n in rows.fetchall()})


# -- Servers ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """Make one request to 127.0.0.1:port; return (status, body)."""
    connection = HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def gunicorn(executable: Path, app: str, port: int, workers: int, env: dict, cwd: Path, log: Path):
    """Run gunicorn in its own process group; stop the whole group on the way out."""
    command = [
        str(executable),
        app,
        "--bind",
        f"{LOOPBACK}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--chdir",
        str(cwd),
        "--error-logfile",
        "-",
    ]
    with open(log, "wb") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stop a process group: TERM, up to 10 s for a graceful exit, then KILL whatever is left of it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        process.wait(10)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


def workers_of(master: int) -> list[int]:
    """Return the process ids whose parent is ``master`` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            found.append(int(entry.name))
    return sorted(found)


def worker_memory(master: int) -> list[float]:
    """Return the resident memory (VmRSS, MiB) of each of gunicorn's workers, from /proc/<pid>/status."""
    found = []
    for pid in workers_of(master):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                found.append(int(line.split()[1]) / 1024)
    return found


def wait_ready(label: str, process: subprocess.Popen, port: int, path: str, log: Path) -> None:
    """Wait until the server answers ``path`` with 200; stop the bench with its log if it never does."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if request(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"comments bench: {label} did not start; its log:\n{log.read_text(errors='replace')[-3000:]}")


# -- Load ---------------------------------------------------------------------------------------------------------


@dataclass
class Load:
    """What one measurement sends: a fixed request, or one built per request (for distinct POST bodies)."""

    label: str
    server: str
    port: int
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: object = None  # None, bytes, or a function (worker, number) -> bytes


@dataclass
class Result:
    """What the load generator measured: one run, or several runs of the same load added up."""

    load: Load
    seconds: float
    latencies: list[float]
    statuses: Counter
    errors: Counter
    sizes: list[int]
    ok: int  # answers with a 2xx status
    client_cpu: float
    rounds: list[float] = field(default_factory=list)  # requests/s of each run
    outcomes: Counter | None = None

    @property
    def rate(self) -> float:
        """Return successful (2xx) answers per second."""
        return self.ok / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")

    @classmethod
    def total(cls, runs: list[Result]) -> Result:
        """Add up runs of the same load."""
        return cls(
            load=runs[0].load,
            seconds=sum(run.seconds for run in runs),
            latencies=[latency for run in runs for latency in run.latencies],
            statuses=sum((run.statuses for run in runs), Counter()),
            errors=sum((run.errors for run in runs), Counter()),
            sizes=[size for run in runs for size in run.sizes],
            ok=sum(run.ok for run in runs),
            client_cpu=max(run.client_cpu for run in runs),
            rounds=[run.rate for run in runs],
        )


def _raw(load: Load, body: bytes | None) -> bytes:
    head = [f"{load.method} {load.path} HTTP/1.1", f"Host: {LOOPBACK}:{load.port}", "User-Agent: comments-bench"]
    head += [f"{name}: {value}" for name, value in load.headers.items()]
    if body is not None:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")


def _exchange(connection: socket.socket, message: bytes) -> tuple[int, int, bool]:
    """Send one request and read its answer; return (status, body length, whether the server closes)."""
    connection.sendall(message)
    data = bytearray()
    while (end := data.find(b"\r\n\r\n")) < 0:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer")
        data += chunk
    lines = bytes(data[:end]).decode("latin-1").split("\r\n")
    status, length, closes = int(lines[0].split(" ", 2)[1]), None, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            closes = "close" in value.lower()
        elif name == "transfer-encoding":
            raise ConnectionError("chunked answers are not read by this client")
    have = len(data) - end - 4
    while length is None or have < length:
        chunk = connection.recv(65536)
        if not chunk:
            if length is None:
                return status, have, True
            raise ConnectionError("closed in the middle of the answer")
        have += len(chunk)
    return status, have, closes


def _drive(load: Load, concurrency: int, warmup: float, seconds: float, results) -> None:
    """Keep ``concurrency`` requests in flight for warmup + seconds; put the measured part in ``results``."""
    start = time.monotonic()
    measure_from, until = start + warmup, start + warmup + seconds
    samples: list[list[tuple[float, float, int, int]]] = [[] for _ in range(concurrency)]
    errors: list[Counter] = [Counter() for _ in range(concurrency)]
    fixed = None if callable(load.body) else _raw(load, load.body)

    def worker(index: int) -> None:
        connection, number = None, 0
        while (begun := time.monotonic()) < until:
            message = fixed if fixed is not None else _raw(load, load.body(index, number))
            number += 1
            try:
                if connection is None:
                    connection = socket.create_connection((LOOPBACK, load.port), timeout=30)
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                status, size, closes = _exchange(connection, message)
            except OSError as error:
                errors[index][type(error).__name__] += 1
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.01)  # a server that refuses is not to be hammered in a tight loop
                continue
            done = time.monotonic()
            if closes:
                connection.close()
                connection = None
            if begun >= measure_from and done <= until:
                samples[index].append((done, done - begun, status, size))
        if connection is not None:
            connection.close()

    cpu = os.times()
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    used = os.times()
    merged = sorted(sample for own in samples for sample in own)
    results.put(
        {
            "latencies": [latency for _, latency, _, _ in merged],
            "statuses": Counter(status for *_, status, _ in merged),
            "errors": sum(errors, Counter()),
            "sizes": [size for *_, size in merged],
            "ok": sum(1 for *_, status, _ in merged if 200 <= status < 300),
            "client_cpu": (used.user - cpu.user + used.system - cpu.system) / (warmup + seconds),
        }
    )


def measure(load: Load, concurrency: int, warmup: float, seconds: float) -> Result:
    """Run the load generator in its own process and return what it measured."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=_drive, args=(load, concurrency, warmup, seconds, results), daemon=True)
    process.start()
    try:
        found = results.get(timeout=warmup + seconds + 120)
    except BaseException:
        process.kill()  # interrupted, or the generator is stuck: stop the load now
        raise
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
    return Result(load=load, seconds=seconds, **found)


def in_rounds(loads: list[Load], rounds: int, concurrency: int, warmup: float, seconds: float) -> list[Result]:
    """Measure the loads in turn, ``rounds`` times over, and add up each one's runs.

    Taking turns spreads whatever else the machine does over every load alike, so the ratios hold
    even when the absolute figures drift.
    """
    runs: list[list[Result]] = [[] for _ in loads]
    for number in range(rounds):
        for index, load in enumerate(loads):
            if callable(load.body):
                # Every run numbers its requests from 0: keep the bodies of different runs apart.
                load = replace(
                    load, body=lambda worker, n, build=load.body, base=number * 1_000_000: build(worker, base + n)
                )
            runs[index].append(measure(load, concurrency, warmup, seconds))
    return [Result.total(own) for own in runs]


def cpu_busy(seconds: float = 1.0) -> float:
    """Return the share of all cores that was busy over the next ``seconds`` (from /proc/stat; 0 if unreadable)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values[:8]), idle

    try:
        total, idle = sample()
        time.sleep(seconds)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1 - (idle2 - idle) / max(1, total2 - total)


# -- Report -------------------------------------------------------------------------------------------------------


def table(results: list[Result]) -> None:
    """Print one line per measurement."""
    heading = f"{'measurement':<44} {'req/s':>7} {'median ms':>9} {'p95 ms':>7} {'bytes':>6}  {'req/s by round':<18}"
    print(f"  {heading}  answers")
    for result in results:
        statuses = ", ".join(f"{n} x {status}" for status, n in sorted(result.statuses.items()))
        if result.errors:
            statuses += "; errors " + ", ".join(f"{n} x {name}" for name, n in result.errors.items())
        size = int(statistics.median(result.sizes)) if result.sizes else 0
        by_round = " ".join(f"{rate:.0f}" for rate in result.rounds)
        print(
            f"  {result.load.label:<44} {result.rate:>7.1f} {result.percentile(0.5):>9.1f}"
            f" {result.percentile(0.95):>7.1f} {size:>6}  {by_round:<18}  {statuses}"
        )


def ratio_row(measure: str, ratio: float, by_round: str = "", goal: float | None = None) -> dict:
    """Return one bench/results row: a ratio against its goal, or reported when it has none."""
    figure = f"{ratio:.2f}x" + (f" (rounds: {by_round})" if by_round else "")
    if goal is None:
        return {"measure": measure, "figure": figure, "goal": "reported", "ok": True}
    return {"measure": measure, "figure": figure, "goal": f">= {goal:g}x", "ok": ratio >= goal}


def main() -> int:
    """Start the servers, seed them, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4, help="measured seconds per run (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each measurement, taking turns (default 3)")
    parser.add_argument("--warmup", type=float, default=1, help="warm-up seconds before each run (default 1)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per server (default 2)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"),
        help="PostgreSQL server and base name of ours as deployed: <name>_comments is emptied and used",
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"))
    args = parser.parse_args()
    logging.disable(logging.INFO)  # alembic's migration lines
    # A TERM (CI stopping us) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    isso_gunicorn = ensure_isso()
    busy_before = cpu_busy()
    with tempfile.TemporaryDirectory(prefix="comments-bench-") as tmp, ExitStack() as servers:
        folder = Path(tmp)
        (folder / "isso").mkdir()
        ours_db = str(folder / "widget.db")
        ours_port, isso_port = free_port(), free_port()
        seeded_ours = seed_ours(ours_db)
        import redis
        from sqlalchemy.engine import make_url

        base = make_url(args.postgres)
        pg_db = base.set(database=f"{base.database}_comments").render_as_string(hide_password=False)
        empty_postgres(pg_db)
        redis.Redis.from_url(args.redis).flushdb()
        seeded_pg = seed_ours(pg_db)
        pg_port = free_port()
        isso_env = isso_files(isso_gunicorn.parent / "python", folder / "isso", isso_port)

        ours_log, isso_log = folder / "ours.log", folder / "isso.log"
        # In production more than one worker needs REDIS_URL (rate limits shared across workers).
        ours_env = ours_environment(ours_db, args.redis)
        ours = servers.enter_context(
            gunicorn(OURS_GUNICORN, "wsgi:app", ours_port, args.workers, ours_env, ROOT, ours_log)
        )
        isso = servers.enter_context(
            gunicorn(
                isso_gunicorn,
                "isso_bench_entry:application",
                isso_port,
                args.workers,
                isso_env,
                folder / "isso",
                isso_log,
            )
        )
        api_path = "/api/comments?page=" + quote(ARTICLE, safe="")
        page_path = f"/comments?page={quote(ARTICLE, safe='')}&embed={quote(ORIGIN, safe='')}"
        isso_path = "/?uri=" + quote(ARTICLE_PATH, safe="")
        pg_log = folder / "ours-postgres.log"
        pg = servers.enter_context(
            gunicorn(
                OURS_GUNICORN, "wsgi:app", pg_port, args.workers, ours_environment(pg_db, args.redis), ROOT, pg_log
            )
        )
        wait_ready("our gunicorn", ours, ours_port, api_path, ours_log)
        wait_ready("our gunicorn on PostgreSQL", pg, pg_port, api_path, pg_log)
        wait_ready("Isso's gunicorn", isso, isso_port, "/info", isso_log)
        seeded_isso = seed_isso(isso_port)

        ours_count = json.loads(request(ours_port, "GET", api_path)[1])["count"]
        isso_thread = json.loads(request(isso_port, "GET", isso_path)[1])
        isso_count = len(isso_thread["replies"]) + sum(len(c.get("replies", [])) for c in isso_thread["replies"])
        if (ours_count, isso_count) != (TOP_LEVEL + REPLIES,) * 2:
            raise SystemExit(f"comments bench: threads differ: ours shows {ours_count}, Isso {isso_count}")

        print(
            f"Comments: ours vs Isso {ISSO_VERSION}, each under gunicorn {GUNICORN_VERSION}, {args.workers} sync"
            f" workers, on 127.0.0.1, {os.cpu_count()} cores"
        )
        print(
            f"  thread: {TOP_LEVEL + REPLIES} comments ({TOP_LEVEL} + {REPLIES} replies) on {ARTICLE}\n"
            f"  load: {args.concurrency} requests in flight, a new connection each; {args.rounds} rounds of"
            f" {args.warmup:g} s warm-up + {args.seconds:g} s measured per line, the lines taking turns\n",
            flush=True,
        )
        run = (args.rounds, args.concurrency, args.warmup, args.seconds)
        gets = in_rounds(
            [
                Load("thread GET  ours  /api/comments (JSON)", "ours", ours_port, "GET", api_path),
                Load("thread GET  ours  /comments (iframe HTML)", "ours", ours_port, "GET", page_path),
                Load("thread GET  Isso  /?uri= (JSON)", "Isso", isso_port, "GET", isso_path, {"Origin": ORIGIN}),
                Load("thread GET  ours PG  /api/comments (JSON)", "ours on PostgreSQL", pg_port, "GET", api_path),
                Load("thread GET  ours PG  /comments (iframe HTML)", "ours on PostgreSQL", pg_port, "GET", page_path),
            ],
            *run,
        )

        # Posting: our form token must be at least 3 s old, or the comment is taken for spam.
        token, pg_token, shown = form_token(ours_port), form_token(pg_port), time.monotonic()
        poster = NAMES[POSTER]

        def ours_body(worker: int, number: int) -> bytes:
            values = {"page": ARTICLE, "name": poster, "email": email_of(poster), "body": post_text(worker, number)}
            return json.dumps({**values, "form_token": token, "homepage": ""}).encode()

        def pg_body(worker: int, number: int) -> bytes:
            values = {"page": ARTICLE, "name": poster, "email": email_of(poster), "body": post_text(worker, number)}
            return json.dumps({**values, "form_token": pg_token, "homepage": ""}).encode()

        def isso_body(worker: int, number: int) -> bytes:
            return isso_post_body(poster, email_of(poster), post_text(worker, number))

        time.sleep(max(0.0, 3.2 - (time.monotonic() - shown)))
        json_only = {"Content-Type": "application/json"}
        posts = in_rounds(
            [
                Load(
                    "POST        ours  /api/comments", "ours", ours_port, "POST", "/api/comments", json_only, ours_body
                ),
                Load(
                    "POST        Isso  /new",
                    "Isso",
                    isso_port,
                    "POST",
                    ISSO_NEW,
                    {**json_only, "Origin": ORIGIN},
                    isso_body,
                ),
                Load(
                    "POST        ours PG  /api/comments",
                    "ours on PostgreSQL",
                    pg_port,
                    "POST",
                    "/api/comments",
                    json_only,
                    pg_body,
                ),
            ],
            *run,
        )
        posts[0].outcomes = ours_outcomes(ours_db, seeded_ours)
        posts[1].outcomes = isso_outcomes(folder / "isso" / "isso.db", seeded_isso)
        posts[2].outcomes = ours_outcomes(pg_db, seeded_pg)
    busy_after = cpu_busy()

    table(gets + posts)
    for result in posts:
        print(f"  posts to {result.load.server} (warm-ups included) became: {dict(sorted(result.outcomes.items()))}")
    client = max(result.client_cpu for result in gets + posts)
    print(f"  the load generator used at most {client:.0%} of a core (it shares the machine with the servers)")
    print(
        f"  CPU busy with other work: {busy_before:.0%} of all cores before the servers started, {busy_after:.0%} after"
    )
    if max(busy_before, busy_after) > 0.1:
        print("  WARNING: something else was using the CPU: absolute figures are low; the ratios still compare")
    print()

    # A visitor's browser reads the thread as the iframe page (rendered on the server); the JSON API is the
    # like-for-like answer to Isso's JSON.  Both are held to the goal.
    isso = gets[2]
    met = True
    found = []
    print(f"thread GET, ours / Isso requests/s (goal >= {GOAL_RATIO:g}x):")
    for name, ours in (("JSON API", gets[0]), ("iframe page", gets[1])):
        ratio = ours.rate / isso.rate
        met = met and ratio >= GOAL_RATIO
        by_round = " ".join(f"{a / b:.1f}x" for a, b in zip(ours.rounds, isso.rounds, strict=True))
        print(f"  {name:<12} {ratio:5.2f}x  {'ok' if ratio >= GOAL_RATIO else 'BELOW GOAL'}  (by round: {by_round})")
        found.append(ratio_row(f"thread GET, {name}, ours (SQLite) vs Isso, req/s", ratio, by_round, GOAL_RATIO))
    print(f"POST, ours / Isso requests/s: {posts[0].rate / posts[1].rate:.2f}x")
    found.append(ratio_row("POST, ours (SQLite) vs Isso, req/s", posts[0].rate / posts[1].rate))
    # Ours as deployed (PostgreSQL + Redis): extra lines against the same goal; the exit status stays as it was.
    print(f"ours on PostgreSQL + Redis / Isso requests/s (goal >= {GOAL_RATIO:g}x for the thread):")
    for name, ours in (("JSON API", gets[3]), ("iframe page", gets[4])):
        ratio = ours.rate / isso.rate
        by_round = " ".join(f"{a / b:.1f}x" for a, b in zip(ours.rounds, isso.rounds, strict=True))
        print(f"  {name:<12} {ratio:5.2f}x  {'ok' if ratio >= GOAL_RATIO else 'BELOW GOAL'}  (by round: {by_round})")
        found.append(
            ratio_row(f"thread GET, {name}, ours (PostgreSQL + Redis) vs Isso, req/s", ratio, by_round, GOAL_RATIO)
        )
    print(f"  POST         {posts[2].rate / posts[1].rate:5.2f}x")
    found.append(ratio_row("POST, ours (PostgreSQL + Redis) vs Isso, req/s", posts[2].rate / posts[1].rate))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(f"written: {RESULTS.relative_to(ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
