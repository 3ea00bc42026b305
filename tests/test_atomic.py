"""One helper replaces every file the project rewrites in place."""

import os

import pytest

from gan.records.atomic import replace_with, write_text


def test_replace_is_whole_or_nothing(tmp_path):
    path = tmp_path / "sub" / "record.json"
    write_text(path, "old")
    assert path.read_text() == "old"

    def broken(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        replace_with(path, broken)
    assert path.read_text() == "old"  # the old file as it was
    assert os.listdir(path.parent) == ["record.json"]  # and no temporary left behind
    write_text(path, "new")
    assert path.read_text() == "new" and os.listdir(path.parent) == ["record.json"]


def test_every_in_place_write_goes_through_the_helper():
    """No module renames a temporary of its own any more."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = [str(p.relative_to(root)) for pkg in ("gan", "study", "analysis")
                 for p in (root / pkg).rglob("*.py")
                 if p.name != "atomic.py" and "os.replace(" in p.read_text()
                 and "damaged" not in p.read_text()]
    assert offenders == []
