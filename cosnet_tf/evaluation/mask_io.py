"""Reading binary masks from PNG files and listing the frames of a sequence.

Foreground rules (:func:`read_mask`), by the PNG's colour type:

* 8-bit grey (``L``, ``LA``): foreground where the value is ``> threshold``
  (127 by default, so a probability map saved as ``p * 255`` is cut at 0.5
  and a 0/255 mask reads as expected).
* RGB / RGBA: foreground where any colour channel is ``> threshold`` (a grey
  map stored as RGB behaves like the grey map; the alpha channel is ignored).
* Palette (``P``), 1-bit and 16/32-bit integer images are *label maps*:
  every nonzero label is foreground (DAVIS/FBMS colour-indexed annotations:
  all objects merge into one foreground), whatever ``threshold`` is.

Ground-truth annotations are read with ``threshold=0`` (any nonzero value is
an object), predictions with the default 127.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cosnet_tf.utils.image_files import natural_sort_key

# Pillow modes whose values are labels, not intensities.
_LABEL_MODES = {"1", "P", "PA", "I", "I;16", "I;16B", "I;16L", "I;16N", "I;32", "I;32B"}
_GREY_MODES = {"L", "LA"}
_COLOUR_MODES = {"RGB", "RGBA", "RGBX", "RGBa"}


def read_mask(path, *, threshold: int = 127) -> np.ndarray:
    """Read a PNG mask as a boolean ``(height, width)`` array.

    Args:
        path: the image file.
        threshold: grey/colour values strictly above it are foreground; it
            does not apply to palette, 1-bit or 16/32-bit label images, where
            any nonzero label is foreground.

    Returns:
        ``bool`` array, ``True`` on the foreground.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: the file is not a readable image, or has an unsupported
            colour type (the message names it).

    Example:

    >>> import tempfile, pathlib, numpy as np
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.png"
    >>> Image.fromarray(np.array([[0, 200], [100, 255]], np.uint8)).save(path)
    >>> read_mask(path).tolist()
    [[False, True], [False, True]]
    >>> read_mask(path, threshold=0).tolist()
    [[False, True], [True, True]]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            array = np.asarray(image)
    except (OSError, SyntaxError, ValueError) as error:  # PIL.UnidentifiedImageError is an OSError
        raise ValueError(f"cannot read mask image {path}: {error}") from error

    if mode in _LABEL_MODES:
        if array.ndim == 3:  # "PA": index plus alpha
            array = array[..., 0]
        return array != 0
    if mode in _GREY_MODES:
        if array.ndim == 3:
            array = array[..., 0]
        return array > threshold
    if mode in _COLOUR_MODES:
        return (array[..., :3] > threshold).any(axis=-1)
    raise ValueError(
        f"unsupported colour type {mode!r} in mask image {path}: "
        "expected grey, RGB(A), palette or integer label PNG"
    )


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
