"""`make run` installs requirements.txt only (no test or benchmark stack), so every module the server
imports must come from a distribution pinned there: the site's own code and the gunicorn worker
`gunicorn.conf.py` selects. A module that the dev venv happens to have (through pytest, say) would
otherwise pass every test and break `make run` on a fresh machine (gunicorn's gevent worker
imports `packaging` without declaring it)."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pinned() -> set[str]:
    names = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==", line)
        if match:
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def top_level_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_the_gevent_workers_imports_are_all_pinned_for_make_run():
    worker = Path(importlib.util.find_spec("gunicorn.workers.ggevent").origin)
    distributions = packages_distributions()
    missing = []
    for module in sorted(top_level_imports(worker)):
        if module in sys.stdlib_module_names or module == "gunicorn":
            continue
        owners = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
        if not owners & pinned():
            missing.append(f"{module} (from {', '.join(sorted(owners))})")
    assert not missing, f"requirements.txt lacks what gunicorn's gevent worker imports: {missing}"
