"""The DAVIS benchmark's `db_info.yml`: per-sequence attributes and the T measure's exclusions.

DAVIS-2016 does not compute temporal stability T for sequences with strong occlusions: those
have `eval_t: False` in `db_info.yml`. :func:`t_exclusions` reads that list;
`evaluate_davis2016` uses it by default when the ground-truth root holds the file.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "db_info.yml"
>>> _ = path.write_text("sequences:\\n- name: bear\\n  eval_t: True\\n- name: bmx-trees\\n  eval_t: False\\n")
>>> sorted(t_exclusions(path))
['bmx-trees']
"""
from __future__ import annotations

import os
from pathlib import Path

DB_INFO_NAME = "db_info.yml"


def read_db_info(path) -> dict:
    """`{sequence name: its entry}` from a DAVIS `db_info.yml`; errors name the file."""
    import yaml  # PyYAML

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"db_info file not found: '{path}'")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"cannot parse '{path}': {error}") from error
    entries = content.get("sequences") if isinstance(content, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
        raise ValueError(f"'{path}' has no 'sequences' list of entries with a 'name' (not a DAVIS db_info.yml?)")
    return {str(entry["name"]): entry for entry in entries}


def t_exclusions(path) -> set:
    """Names of the sequences whose T the benchmark does not compute (`eval_t: False`)."""
    return {name for name, entry in read_db_info(path).items() if entry.get("eval_t", True) is False}


def find_db_info(gt_root) -> Path | None:
    """The `db_info.yml` of a DAVIS root (given as the root or as its `Annotations/<res>`), if any."""
    root = Path(os.fspath(gt_root))
    for folder in (root, root.parent.parent):
        candidate = folder / DB_INFO_NAME
        if candidate.is_file():
            return candidate
    return None
