"""Which files of a folder are frames, and the order they are read in (natural order of names)."""
import re
from pathlib import Path

#: File name endings read as frames (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def natural_sort_key(name: str):
    """Sort key that puts ``frame2`` before ``frame10`` (zero-padded DAVIS names sort the same).

    >>> sorted(["frame10.jpg", "frame2.jpg", "frame1.jpg"], key=natural_sort_key)
    ['frame1.jpg', 'frame2.jpg', 'frame10.jpg']
    """
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def list_image_files(folder) -> list:
    """The image files of `folder` (`IMAGE_EXTENSIONS`, hidden files left out), in natural order."""
    return sorted(
        (entry for entry in Path(folder).iterdir()
         if entry.is_file() and not entry.name.startswith(".") and entry.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda entry: natural_sort_key(entry.name),
    )
