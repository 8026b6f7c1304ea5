"""Reading binary masks (`read_mask`, the package's one mask reader) and listing a sequence's frames."""
from __future__ import annotations

from pathlib import Path

from cosnet_tf.data.decoding import read_mask
from cosnet_tf.utils.image_files import natural_sort_key

__all__ = ["list_mask_frames", "read_mask"]


def list_mask_frames(folder) -> list[tuple[str, Path]]:
    """List the PNG files of a sequence folder as ``(stem, path)`` pairs.

    Frames are sorted in natural order of their stems (``2`` before ``10``,
    and ``00002`` before ``00010``). Hidden files are ignored.

    Raises:
        FileNotFoundError: ``folder`` is not a directory (the message names it).
        ValueError: ``folder`` contains no PNG file.

    Example:

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["10.png", "2.png", "notes.txt"]:
    ...     _ = (folder / name).write_bytes(b"")
    >>> [stem for stem, _ in list_mask_frames(folder)]
    ['2', '10']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"sequence folder not found: {folder}")
    frames = [
        (entry.stem, entry)
        for entry in folder.iterdir()
        if entry.suffix.lower() == ".png" and not entry.name.startswith(".") and entry.is_file()
    ]
    if not frames:
        raise ValueError(f"no PNG masks in {folder}")
    frames.sort(key=lambda item: natural_sort_key(item[0]))
    return frames
