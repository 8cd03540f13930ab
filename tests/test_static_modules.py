"""The room page's ES modules under the production storage (hashed names, compressed): every
import between them names a hashed file that collectstatic wrote, so a deployment never serves a
module from a stale cache or misses one. The browser tests load them for real through gunicorn."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.core.files.storage import storages
from django.core.management import call_command
from django.test import override_settings

from chatsite.storage import CompressedManifestStaticFilesStorage

MODULES = Path(__file__).resolve().parent.parent / "static" / "js" / "chat"
IMPORT = re.compile(r'^import \{[^}]*\} from "(\./[^"]+)";$', re.M)


def test_module_imports_are_rewritten_to_hashed_names(tmp_path):
    production = {"staticfiles": {"BACKEND": "chatsite.storage.CompressedManifestStaticFilesStorage"}}
    ours_only = ["django.contrib.staticfiles.finders.FileSystemFinder"]  # not django-htmx's files: faster
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=production, STATICFILES_FINDERS=ours_only):
        assert isinstance(storages["staticfiles"], CompressedManifestStaticFilesStorage)
        call_command("collectstatic", "--noinput", "-v0")
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    sources = sorted(p.name for p in MODULES.glob("*.js"))
    assert "main.js" in sources and len(sources) > 3
    for name in sources:
        source_imports = IMPORT.findall((MODULES / name).read_text())
        hashed = tmp_path / manifest[f"js/chat/{name}"]
        collected_imports = IMPORT.findall(hashed.read_text())
        assert len(collected_imports) == len(source_imports)
        for original, rewritten in zip(source_imports, collected_imports):
            target = "js/chat/" + original.removeprefix("./")
            assert rewritten == "./" + Path(manifest[target]).name != original
            assert (hashed.parent / rewritten).is_file()


def test_the_old_single_script_and_the_empty_site_js_are_gone():
    static = MODULES.parent
    assert not (static / "chat.js").exists() and not (static / "site.js").exists()
