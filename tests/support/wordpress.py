"""A real WordPress on loopback for the plugin's tests: Debian's wordpress package, PHP's server, a private MariaDB.

Debian's /usr/share/wordpress reads its settings from /etc/wordpress; the tests leave /etc alone and
run a hard-linked copy of the tree (a plain copy across file systems) with a wp-config.php of their
own, its wp-content holding the plugin unpacked from the zip `make wordpress-plugin` builds.
MariaDB runs from a temporary data directory, reached by its own Unix socket: nothing is shared with other runs.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from tests.support import ROOT, services_required

WORDPRESS = Path("/usr/share/wordpress")
PHP = shutil.which("php") or "/usr/bin/php"
MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")) or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
PLUGIN = "booking-widget/booking-widget.php"
PACKAGES = "wordpress wordpress-theme-twentytwentyone php-cli php-mysql php-curl php-xml php-mbstring mariadb-server"

# A child theme of Twenty Twenty-One that prints each post's comment count on the blog's front page,
# as many themes do under their teasers.
CHILD_STYLE = """/*
Theme Name: Studio
Template: twentytwentyone
*/
"""
CHILD_TEASER = """<article id="post-<?php the_ID(); ?>" <?php post_class(); ?>>
<header class="entry-header">
<h2 class="entry-title"><a href="<?php the_permalink(); ?>"><?php the_title(); ?></a></h2>
</header>
<div class="entry-content"><?php the_content(); ?></div>
<p class="comment-count" data-post="<?php the_ID(); ?>"><?php comments_number(); ?></p>
</article>
"""

ROUTER = """<?php
// Files and folders that exist are served as they are; every other address is WordPress's (pretty permalinks).
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/' && file_exists(__DIR__ . $path)) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = __DIR__ . '/index.php';
require __DIR__ . '/index.php';
"""


def wordpress_unavailable(reason: str):
    """Skip the test because WordPress cannot run here, or fail it when REQUIRE_SERVICES=1."""
    message = f"WordPress cannot run: {reason}"
    if services_required():
        pytest.fail(f"{message}; REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{message}; install the Debian packages: apt-get install -y {PACKAGES}")


def missing_programs() -> list[str]:
    """Return what of Debian's WordPress, PHP and MariaDB is not installed."""
    needed = {
        "wordpress (/usr/share/wordpress)": (WORDPRESS / "wp-settings.php").exists(),
        "twentytwentyone theme": (WORDPRESS / "wp-content/themes/twentytwentyone/style.css").exists(),
        "php": os.path.exists(PHP),
        "mariadbd": os.path.exists(MARIADBD),
        "mariadb-install-db": os.path.exists(INSTALL_DB),
        "mariadb (the client)": bool(shutil.which("mariadb")),
        "make": bool(shutil.which("make")),
    }
    missing = [name for name, present in needed.items() if not present]
    if os.path.exists(PHP):
        modules = subprocess.run([PHP, "-m"], capture_output=True, text=True).stdout.lower().split()
        missing += [f"php module {name}" for name in ("mysqli", "curl", "mbstring", "xml") if name not in modules]
    return missing


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    """Wait until something listens on 127.0.0.1:``port``; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


class MariaDB:
    """A MariaDB server of its own: a fresh data directory, grant tables off, reached only by its Unix socket.

    No TCP port at all: nothing else on the machine can reach it, and no port can be taken by
    another run between choosing it and binding it.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        # A Unix socket's path must stay short (about 100 bytes), so it does not live under pytest's tmp_path.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="wpdb"))
        self.socket = self.socket_dir / "mysqld.sock"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Create the data directory and start the server."""
        data, user = self.directory / "data", getpass.getuser()
        subprocess.run(
            [INSTALL_DB, "--no-defaults", f"--datadir={data}", f"--user={user}", "--skip-test-db"],
            check=True,
            capture_output=True,
        )
        self.process = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                f"--datadir={data}",
                f"--user={user}",
                "--skip-networking",
                f"--socket={self.socket}",
                f"--pid-file={self.socket_dir / 'mysqld.pid'}",
                f"--log-error={self.directory / 'error.log'}",
                "--skip-grant-tables",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.sql("SELECT 1", wait=30.0)

    def sql(self, statement: str, wait: float = 0.0) -> None:
        """Run one SQL statement as root; retry for ``wait`` seconds while the server is starting."""
        deadline = time.monotonic() + wait
        while True:
            result = subprocess.run(
                ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-e", statement],
                capture_output=True,
                text=True,
            )
            if result.returncode == 0:
                return
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with status {self.process.returncode}, see {self.directory}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"MariaDB refused {statement!r}: {result.stderr.strip()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server and remove its socket directory."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def build_plugin_zip(target: Path) -> Path:
    """Build the plugin's zip with `make wordpress-plugin` into ``target``; return its path."""
    subprocess.run(
        ["make", "-s", "wordpress-plugin", f"PLUGIN_ZIP={target}", "PYTHON=python3"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return target


def _copy_tree(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (but its wp-config.php) by hard links where possible, else by copies.

    Symbolic links are followed: Debian points some of WordPress's files at shared copies elsewhere
    (underscore.js, getID3) by relative links, which would not resolve from the copy.
    """
    for folder, _, files in os.walk(source, followlinks=True):
        destination = target / Path(folder).relative_to(source)
        destination.mkdir(parents=True, exist_ok=True)
        for name in files:
            real = os.path.realpath(os.path.join(folder, name))
            if (folder == str(source) and name == "wp-config.php") or not os.path.isfile(real):
                continue
            try:
                os.link(real, destination / name)
            except OSError:
                shutil.copy2(real, destination / name)


class WordPress:
    """Debian's WordPress served by `php -S` on http://localhost:<port>, installed with the plugin active."""

    def __init__(self, directory: Path, plugin_zip: Path):
        self.directory, self.plugin_zip = directory, plugin_zip
        self.root = directory / "wordpress"
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.database = MariaDB(directory / "mariadb")
        self.server: subprocess.Popen | None = None
        self.log = directory / "php-server.log"
        self.debug_log = directory / "debug.log"
        self.admin_password = secrets.token_urlsafe(12)

    # --- Setting up ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start MariaDB, lay out WordPress with the plugin, install the blog, serve it."""
        (self.directory / "mariadb").mkdir(parents=True, exist_ok=True)
        self.database.start()
        self.database.sql("CREATE DATABASE wordpress")
        _copy_tree(WORDPRESS, self.root)
        with zipfile.ZipFile(self.plugin_zip) as archive:
            archive.extractall(self.root / "wp-content" / "plugins")
        child = self.root / "wp-content" / "themes" / "studio"
        child.mkdir()
        (child / "style.css").write_text(CHILD_STYLE)
        (child / "template-parts" / "content").mkdir(parents=True)
        (child / "template-parts" / "content" / "content-excerpt.php").write_text(CHILD_TEASER)
        (self.root / "wp-config.php").write_text(self._config())
        (self.root / "router.php").write_text(ROUTER)
        self.php(
            "require_once ABSPATH . 'wp-admin/includes/upgrade.php';"
            f"wp_install('Juniper Massage Studio', 'admin', 'admin@studio.example', true, '', '{self.admin_password}');"
            "update_option('permalink_structure', '/%postname%/');",
            installing=True,
        )
        self.php(
            "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
            "switch_theme('studio');"
            "flush_rewrite_rules(false);"
            f"$result = activate_plugin('{PLUGIN}');"
            "if (is_wp_error($result)) { fwrite(STDERR, $result->get_error_message()); exit(1); }"
        )
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4"}
        with open(self.log, "wb") as log:
            self.server = subprocess.Popen(
                [PHP, "-S", f"127.0.0.1:{self.port}", "-t", str(self.root), str(self.root / "router.php")],
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers share the group, so stop() ends them all
            )
        wait_for_port(self.port, self.server, "php -S")

    def stop(self) -> None:
        """Stop the web server and MariaDB."""
        if self.server and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=10)
        self.database.stop()

    def _config(self) -> str:
        keys = "".join(
            f"define('{name}', '{secrets.token_hex(32)}');\n"
            for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY")
            + ("AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT")
        )
        return f"""<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:{self.database.socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{keys}$table_prefix = 'wp_';
define('WP_HOME', '{self.url}');
define('WP_SITEURL', '{self.url}');
define('WP_DEBUG', true);
define('WP_DEBUG_DISPLAY', false);
define('WP_DEBUG_LOG', '{self.debug_log}');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
// No outside calls (update checks and the like): only loopback, where the booking service runs.
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('WP_ACCESSIBLE_HOSTS', '127.0.0.1');
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""

    # --- Using it -----------------------------------------------------------------------------------------------

    def php(self, code: str, installing: bool = False) -> str:
        """Run PHP ``code`` with WordPress loaded (as the command line would); return what it printed."""
        script = self.directory / f"run-{secrets.token_hex(4)}.php"
        prelude = "define('WP_INSTALLING', true);" if installing else ""
        script.write_text(
            f"<?php $_SERVER['HTTP_HOST'] = 'localhost:{self.port}'; $_SERVER['REQUEST_URI'] = '/';"
            f"{prelude} require '{self.root / 'wp-load.php'}';\n{code}\n"
        )
        try:
            result = subprocess.run([PHP, str(script)], capture_output=True, text=True, timeout=60)
        finally:
            script.unlink()
        if result.returncode != 0:
            raise AssertionError(f"PHP failed ({result.returncode}): {result.stderr or result.stdout}")
        return result.stdout

    def value(self, expression: str):
        """Return the JSON-decoded value of a PHP ``expression`` evaluated inside WordPress."""
        return json.loads(self.php(f"echo wp_json_encode({expression});"))

    def create_post(self, title: str, content: str, slug: str) -> dict:
        """Publish a post; return its id and permalink."""
        return self.value(
            "(function () { $id = wp_insert_post(array('post_title' => "
            + json.dumps(title)
            + ", 'post_content' => "
            + php_string(content)
            + ", 'post_name' => "
            + json.dumps(slug)
            + ", 'post_status' => 'publish', 'comment_status' => 'open'), true);"
            " if (is_wp_error($id)) { throw new Exception($id->get_error_message()); }"
            " return array('id' => $id, 'url' => get_permalink($id)); })()"
        )

    def set_options(self, **options) -> None:
        """Store the plugin's settings as they are after a save on its settings page."""
        self.php(f"update_option('booking_widget', json_decode({php_string(json.dumps(options))}, true));")

    def forget_counts(self) -> None:
        """Drop the cached comment counts (the minute they are kept for) and the 'service down' mark."""
        self.php(
            'global $wpdb; foreach ($wpdb->get_col("SELECT option_name FROM $wpdb->options'
            " WHERE option_name LIKE '\\_transient\\_booking\\_widget\\_%'\") as $name) {"
            " delete_transient(substr($name, strlen('_transient_'))); }"
        )

    def stored_options(self, like: str) -> list[str]:
        """Return the names of the options (transients included) whose names match the SQL pattern ``like``."""
        return self.value(
            "$GLOBALS['wpdb']->get_col($GLOBALS['wpdb']->prepare("
            f"\"SELECT option_name FROM {{$GLOBALS['wpdb']->options}} WHERE option_name LIKE %s\", {php_string(like)}))"
        )

    def plugin_notices(self) -> list[str]:
        """Return the PHP errors, warnings and notices the plugin's files caused."""
        if not self.debug_log.exists():
            return []
        return [line for line in self.debug_log.read_text().splitlines() if "plugins/booking-widget" in line]


def php_string(text: str) -> str:
    """Return ``text`` as a single-quoted PHP string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Blog:
    """The blog of the plugin's tests: WordPress, the service it points at, and its posts."""

    wordpress: WordPress
    app: Flask
    widget: str  # the service's address
    posts: dict[str, dict]  # name -> {"id", "url"}
