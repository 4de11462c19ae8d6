"""The import graph of the widget package: no cycle, and every import points down a layer.

Layers, from the bottom:

* infrastructure (extensions, models, settings, timezones, cache, mail,
  errors, forms, signals, outbox, wakeup, schemas) imports no feature;
* calendars/ imports infrastructure only;
* booking/ imports infrastructure and calendars, never comments or admin;
* comments/ imports infrastructure and booking.business (the studio's name,
  phone and time zone, from the rules file) only, never admin;
* admin/ and the app-level modules (__init__, cli, pages) may import
  across features; openapi (the API's document, plain data) is held to the
  infrastructure's rule, since the booking API serves it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "widget"
INFRASTRUCTURE = {
    "extensions",
    "models",
    "settings",
    "timezones",
    "cache",
    "mail",
    "errors",
    "forms",
    "signals",
    "outbox",
    # How a commit wakes the jobs runner (NOTIFY or Redis): infrastructure the outbox and the CLI use.
    "wakeup",
    # The OpenAPI document is plain data the booking API serves: it imports infrastructure only.
    "openapi",
    # The JSON API's request and answer models, which the document and both APIs read.
    "schemas",
}


def _module_name(path: Path) -> str:
    parts = ["widget", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Return each widget module's imports of other widget modules (relative imports resolved)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # "from . import x" imports the module x when there is one, else a name of the package.
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            else:
                continue
            found |= {target for target in targets if target in modules and target != name}
        graph[name] = found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle as a list of modules (first repeated last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _allowed(source: str, target: str) -> bool:
    layer, target_layer = _top(source), _top(target)
    if layer == target_layer or target_layer in INFRASTRUCTURE:
        return layer not in INFRASTRUCTURE or target_layer in INFRASTRUCTURE
    if layer in INFRASTRUCTURE or layer == "calendars":
        return False
    if layer == "booking":
        return target_layer == "calendars"
    if layer == "comments":
        return target == "widget.booking.business"
    return True  # admin and the app-level modules compose the features


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_import_points_down_a_layer():
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in import_graph().items()
        for target in targets
        if not _allowed(source, target)
    )
    assert wrong == []


def test_the_graph_sees_the_features():
    graph = import_graph()
    assert "widget.outbox" in graph["widget.booking.bookings"]
    assert "widget.booking.business" in graph["widget.comments.emails"]
    assert {"widget.booking.views", "widget.comments.views", "widget.admin.views"} <= graph["widget"]
