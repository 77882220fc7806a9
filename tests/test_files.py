import os
import stat
from pathlib import Path

import pytest

from course_lib import files
from course_lib.files import atomic_write


def test_atomic_write_replaces_or_leaves_untouched(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    atomic_write(target, lambda tmp: open(tmp, "w").write("old"))
    assert target.read_text() == "old"

    def half_then_fail(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]  # no temp file left behind


def test_atomic_write_gives_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "report.html", lambda tmp: Path(tmp).write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by others, like any file open() makes


def test_replace_marked_block():
    text = "a\n<!-- t:begin -->\nold\n<!-- t:end -->\nb\n"
    assert files.replace_marked_block(text, "t", "new\n") == "a\n<!-- t:begin -->\nnew\n<!-- t:end -->\nb\n"
    for bad in ("no markers", "<!-- t:end --> <!-- t:begin -->", text + text):
        with pytest.raises(ValueError, match="t:begin"):
            files.replace_marked_block(bad, "t", "x")


def test_file_hash_matches_hashlib_over_several_blocks(tmp_path):
    import hashlib

    blob = os.urandom(3 * (1 << 20) + 17)  # more than one 1 MiB block, and a short last one
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)
    assert files.file_hash(path) == hashlib.sha256(blob).hexdigest()
    assert files.file_hash(path, "sha1") == hashlib.sha1(blob).hexdigest()
