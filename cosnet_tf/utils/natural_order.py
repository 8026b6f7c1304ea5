"""The order frames are read in: natural order of their names."""
import re


def natural_sort_key(name: str):
    """Sort key that puts ``frame2`` before ``frame10`` (zero-padded DAVIS names sort the same).

    >>> sorted(["frame10.jpg", "frame2.jpg", "frame1.jpg"], key=natural_sort_key)
    ['frame1.jpg', 'frame2.jpg', 'frame10.jpg']
    """
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]
