"""Atomic file output: a reader sees the old file or the whole new one, never half of one."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_output_path(path):
    """Yields a temporary path beside `path`; renames it onto `path` on success.

    The temporary name keeps `path`'s suffixes (".keras", ".weights.h5", ...)
    because Keras chooses the format from them. On error the temporary file
    is removed and `path` is left as it was.

    Example:

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_output_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> target.read_text()
    'done'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    suffix = base[base.find(".") :] if "." in base else ""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(fd)
    os.unlink(tmp)  # writers such as h5py want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path, data):
    """Writes `data` to `path` atomically."""
    with atomic_output_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
