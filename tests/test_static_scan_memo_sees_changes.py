"""WhiteNoise's map of a static root is built once per process for an unchanged tree
(tests/support/process_memos.py share_static_scans), and a file added, removed or changed since
gets a map as a fresh scan would build it."""

from __future__ import annotations

import os

from whitenoise.base import WhiteNoise


def _files(root, monkeypatch, built: list) -> dict:
    original = WhiteNoise.add_file_to_dictionary

    def counted(self, url, path, stat_cache=None):
        built.append(url)
        return original(self, url, path, stat_cache=stat_cache)

    with monkeypatch.context() as patch:
        patch.setattr(WhiteNoise, "add_file_to_dictionary", counted)
        return WhiteNoise(application=None, root=root, prefix="/s/").files


def test_an_unchanged_root_is_not_mapped_again_and_a_changed_one_is(tmp_path, monkeypatch):
    (tmp_path / "a.css").write_text("a {}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.js").write_text("let b;")
    built = []
    first = _files(tmp_path, monkeypatch, built)
    assert sorted(first) == ["/s/a.css", "/s/sub/b.js"] and len(built) == 2

    built.clear()
    again = _files(tmp_path, monkeypatch, built)
    assert again == first and again is not first and built == []  # the memo is in force

    (tmp_path / "sub" / "c.js").write_text("let c;")
    assert sorted(_files(tmp_path, monkeypatch, built)) == ["/s/a.css", "/s/sub/b.js", "/s/sub/c.js"]

    (tmp_path / "a.css").unlink()
    assert sorted(_files(tmp_path, monkeypatch, [])) == ["/s/sub/b.js", "/s/sub/c.js"]

    path = tmp_path / "sub" / "b.js"
    path.write_text("let bee = 1;")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    changed = _files(tmp_path, monkeypatch, [])["/s/sub/b.js"]
    assert changed.get_response("GET", {}).file.read() == b"let bee = 1;"
