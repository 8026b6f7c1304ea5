"""Decoding of frames and masks, with errors that name the offending file.

TensorFlow's native decoders (``tf.io.decode_jpeg`` and friends) report a
corrupt file as ``Invalid JPEG data or crop window`` without saying *which*
file failed, which is useless when one frame among 100k is broken.  The input
pipelines therefore decode with Pillow inside :func:`tf.numpy_function`: the
:class:`DataFileError` raised here (a ``ValueError``) reaches the caller of the
``tf.data`` iterator as ``tf.errors.InvalidArgumentError`` whose message
contains the text below, including the file path.  Pillow releases the GIL
while decoding, so parallel ``map`` calls still decode concurrently.

Conventions used throughout :mod:`cosnet_tf.data`:

* frames are ``uint8`` RGB arrays of shape ``[H, W, 3]``;
* masks are ``uint8`` arrays of shape ``[H, W, 1]`` holding 0 (background)
  or 1 (object), read by the package's one mask reader, :func:`read_mask`.

Example:
    >>> import numpy as np, tempfile, os
    >>> from PIL import Image
    >>> from cosnet_tf.data.decoding import (
    ...     DataFileError, load_binary_mask, load_rgb_image)
    >>> folder = tempfile.mkdtemp()
    >>> Image.new("L", (4, 3), 255).save(os.path.join(folder, "m.png"))
    >>> load_binary_mask(os.path.join(folder, "m.png")).shape
    (3, 4, 1)
    >>> with open(os.path.join(folder, "bad.jpg"), "wb") as f:
    ...     _ = f.write(b"not a jpeg")
    >>> try:
    ...     load_rgb_image(os.path.join(folder, "bad.jpg"))
    ... except DataFileError as error:
    ...     print("bad.jpg" in str(error))
    True
"""

from __future__ import annotations

import os
from typing import Callable, Union

import numpy as np
import tensorflow as tf
from PIL import Image

PathLike = Union[str, bytes, os.PathLike]

# Pillow modes whose values are labels, not intensities: any nonzero label is foreground.
_LABEL_MODES = {"1", "P", "PA", "I", "I;16", "I;16B", "I;16L", "I;16N", "I;32", "I;32B"}
_GREY_MODES = {"L", "LA"}
_COLOUR_MODES = {"RGB", "RGBA", "RGBX", "RGBa"}


class DataFileError(ValueError):
    """A frame or mask file is missing, unreadable, corrupt or inconsistent.

    The message always contains the path(s) of the file(s) concerned.  Being a
    ``ValueError``, it surfaces through ``tf.numpy_function`` inside a
    ``tf.data`` pipeline as ``tf.errors.InvalidArgumentError`` with the same
    text.
    """


class MissingDataFileError(DataFileError, FileNotFoundError):
    """A frame or mask file that does not exist (also a ``FileNotFoundError``)."""


def _as_str_path(path: PathLike) -> str:
    # tf.numpy_function hands string tensors over as ``bytes``.
    if isinstance(path, (bytes, np.bytes_)):
        return os.fsdecode(bytes(path))
    return os.fspath(path)


def _decode(path: str, to_array: Callable[[Image.Image, str], np.ndarray]) -> np.ndarray:
    """Fully decode ``path`` and convert it with ``to_array(image, path)``.

    ``Image.open`` only parses the header; ``load`` decodes all pixel data, so
    truncated or corrupt payloads are detected here, not later.  The array is
    built while the file is open; the ``with`` block then releases the file
    handle even for multi-frame formats.
    """
    if not os.path.isfile(path):
        raise MissingDataFileError(f"image file not found: '{path}'")
    try:
        with Image.open(path) as image:
            image.load()
            return to_array(image, path)
    except DataFileError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataFileError(
            f"cannot decode image file '{path}' (corrupt or not an image): {error}"
        ) from error


def _rgb_array(image: Image.Image, path: str) -> np.ndarray:
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def _foreground(image: Image.Image, path: str, threshold: int) -> np.ndarray:
    array = np.asarray(image)
    if image.mode in _LABEL_MODES:
        return (array[..., 0] if array.ndim == 3 else array) != 0  # "PA": the index, not the alpha
    if image.mode in _GREY_MODES:
        return (array[..., 0] if array.ndim == 3 else array) > threshold
    if image.mode in _COLOUR_MODES:
        return (array[..., :3] > threshold).any(axis=-1)
    raise DataFileError(
        f"unsupported colour type {image.mode!r} in mask image '{path}'; "
        "expected grey, RGB(A), palette or integer label PNG"
    )


def read_mask(path: PathLike, *, threshold: int = 127) -> np.ndarray:
    """Read a mask image as a boolean ``(height, width)`` array: the package's one mask reader.

    Foreground, by the image's colour type:

    * 8-bit grey (``L``, ``LA``): values ``> threshold`` (127 by default, i.e.
      ``>= 128``: a probability map saved as ``p * 255`` is cut at 0.5, a
      0/255 mask reads as expected, anti-aliased saliency edges split in the middle);
    * RGB(A): any colour channel ``> threshold`` (a grey map stored as RGB reads
      as the grey map; alpha is ignored);
    * palette, 1-bit and 16/32-bit integer images are label maps: every nonzero
      label is foreground, whatever ``threshold`` is (DAVIS/FBMS colour-indexed
      annotations: all objects merge into one foreground).

    Ground-truth annotations are read with ``threshold=0`` (any nonzero value is
    an object), predictions with the default.

    Raises:
        MissingDataFileError: no such file (a ``FileNotFoundError``).
        DataFileError: the file is corrupt, not an image, or of an unsupported
            colour type; the message names the file.

    Example:

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.png"
    >>> Image.fromarray(np.array([[0, 200], [100, 255]], np.uint8)).save(path)
    >>> read_mask(path).tolist()
    [[False, True], [False, True]]
    >>> read_mask(path, threshold=0).tolist()
    [[False, True], [True, True]]
    """
    return _decode(_as_str_path(path), lambda image, name: _foreground(image, name, threshold))


def load_rgb_image(path: PathLike) -> np.ndarray:
    """Read an image file as an RGB ``uint8`` array of shape ``[H, W, 3]``.

    Grey-scale, palette and RGBA files are converted to RGB (alpha dropped).

    Raises:
        DataFileError: the file is missing, corrupt or not an image; the
            message names the file.
    """
    return _decode(_as_str_path(path), _rgb_array)


def load_binary_mask(path: PathLike) -> np.ndarray:
    """Read a training mask as a ``uint8`` array ``[H, W, 1]`` of 0/1 (:func:`read_mask`'s rules).

    Raises:
        DataFileError: the file is missing, corrupt, or of a colour type with
            no binary reading (e.g. float); the message names the file.
    """
    return read_mask(path).astype(np.uint8)[:, :, np.newaxis]


def load_frame_and_mask(frame_path: PathLike, mask_path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a frame and its mask and check that they have the same size.

    Returns:
        ``(frame, mask)``: ``uint8 [H, W, 3]`` RGB and ``uint8 [H, W, 1]`` 0/1.

    Raises:
        DataFileError: either file is unreadable, or the mask's size differs
            from the frame's (both paths and sizes are in the message).
    """
    frame = load_rgb_image(frame_path)
    mask = load_binary_mask(mask_path)
    if frame.shape[:2] != mask.shape[:2]:
        raise DataFileError(
            f"mask '{_as_str_path(mask_path)}' is {mask.shape[1]}x{mask.shape[0]} (WxH) "
            f"but its frame '{_as_str_path(frame_path)}' is "
            f"{frame.shape[1]}x{frame.shape[0]}"
        )
    return frame, mask


def tf_load_rgb_image(path: tf.Tensor) -> tf.Tensor:
    """Graph-mode wrapper of :func:`load_rgb_image` for ``tf.data`` maps.

    Args:
        path: scalar ``tf.string`` tensor.

    Returns:
        ``uint8`` tensor of static shape ``[None, None, 3]``.
    """
    frame = tf.numpy_function(load_rgb_image, [path], tf.uint8, stateful=False, name="load_rgb_image")
    frame.set_shape([None, None, 3])
    return frame


def tf_load_frame_and_mask(frame_path: tf.Tensor, mask_path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Graph-mode wrapper of :func:`load_frame_and_mask` for ``tf.data`` maps.

    Returns:
        ``(frame, mask)``: ``uint8 [None, None, 3]`` and ``uint8 [None, None, 1]``.
    """
    frame, mask = tf.numpy_function(
        load_frame_and_mask,
        [frame_path, mask_path],
        (tf.uint8, tf.uint8),
        stateful=False,
        name="load_frame_and_mask",
    )
    frame.set_shape([None, None, 3])
    mask.set_shape([None, None, 1])
    return frame, mask
