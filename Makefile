# make run   - set up .venv, apply migrations, serve the app at http://127.0.0.1:5000
# make test  - set up .venv with test tools, run the test suite
# make wordpress-plugin - build the WordPress plugin's installable zip, dist/booking-widget.zip
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint bench clean wordpress-plugin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

DEMO_PORT ?= 8000

# Also serves demo/ on http://localhost:$(DEMO_PORT): a page of "the studio's site" on another origin,
# and runs the jobs runner, which sends the emails and calendar writes.
run: $(VENV)/.installed
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/python -m http.server $(DEMO_PORT) --bind 127.0.0.1 --directory demo >/dev/null 2>&1 & \
	demo=$$!; \
	EMBED_ALLOWED_ORIGINS="$${EMBED_ALLOWED_ORIGINS:-http://localhost:$(DEMO_PORT)}" \
	$(BIN)/flask --app wsgi run-jobs & \
	jobs=$$!; trap 'kill $$demo $$jobs 2>/dev/null' INT TERM EXIT; \
	EMBED_ALLOWED_ORIGINS="$${EMBED_ALLOWED_ORIGINS:-http://localhost:$(DEMO_PORT)}" \
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

BENCHES := availability page_weight comments calendar_sync google_calls bookings reads

# Every bench runs even when an earlier one misses a goal or fails; the one table comes last, from this
# run's results only, and the status is 1 if any bench or goal failed.
bench: $(VENV)/.installed-dev
	@rm -f bench/results/*.json; status=0; \
	for name in $(BENCHES); do \
		echo "== bench/$$name.py"; $(BIN)/python bench/$$name.py || { echo "== bench/$$name.py: exit $$?"; status=1; }; \
	done; \
	echo "== bench/report.py"; $(BIN)/python bench/report.py || status=1; \
	exit $$status

# The zip holds wordpress/ as booking-widget/, the folder name WordPress installs it under (no build step).
PLUGIN_ZIP ?= dist/booking-widget.zip

wordpress-plugin:
	@mkdir -p $(dir $(PLUGIN_ZIP))
	$(PYTHON) -c 'import sys, zipfile, pathlib; root = pathlib.Path("wordpress"); \
	files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "phpcs.xml.dist"); \
	zf = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED); \
	[zf.write(p, "booking-widget/" + p.relative_to(root).as_posix()) for p in files]; zf.close()' $(PLUGIN_ZIP)

clean:
	rm -rf $(VENV) dist bench/.venv-isso .pytest_cache .hypothesis
