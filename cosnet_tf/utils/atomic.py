"""Atomic file output: a reader sees the old file or the whole new one, never half of one."""
import contextlib
import os
import tempfile
from pathlib import Path


def temporary_path_beside(path, prefix=".tmp-", suffix=None):
    """A fresh, unused temporary name in `path`'s folder (same file system, so
    `os.replace` onto `path` is an atomic rename); the folder is created.

    `suffix=None` keeps `path`'s suffixes (".keras", ".weights.h5"), because
    Keras chooses the format from them. The file itself is not left behind:
    the writer creates it, with the permissions the umask gives any new file.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if suffix is None:
        base = os.path.basename(path)
        suffix = base[base.find(".") :] if "." in base else ""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.close(fd)
    os.unlink(tmp)  # writers such as h5py want to create the file themselves
    return tmp


@contextlib.contextmanager
def atomic_output_path(path, prefix=".tmp-", suffix=None):
    """Yields a temporary path beside `path`; renames it onto `path` on success.

    On error the temporary file is removed and `path` is left as it was. A
    writer that names its format itself can pass a `suffix` such as ".part",
    so that a file left by a hard kill never matches the real files' pattern.

    Example:

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_output_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> target.read_text()
    'done'
    """
    tmp = temporary_path_beside(path, prefix, suffix)
    try:
        yield tmp
        os.replace(tmp, os.fspath(path))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path, data):
    """Writes `data` to `path` atomically (flushed to disk first) and returns the path.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_bytes(folder / "a.txt", b"hi").read_bytes()
    b'hi'
    """
    with atomic_output_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path, text, encoding="utf-8"):
    """Writes `text` to `path` atomically (see `atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))
