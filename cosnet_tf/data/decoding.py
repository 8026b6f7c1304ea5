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
  or 1 (object).

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

#: Grey levels at or above this value count as foreground in 8-bit masks.
#: DAVIS masks are exactly 0/255; saliency masks (MSRA10K, DUTS) contain
#: anti-aliased edges, for which 128 is the customary binarisation threshold.
MASK_THRESHOLD = 128


class DataFileError(ValueError):
    """A frame or mask file is missing, unreadable, corrupt or inconsistent.

    The message always contains the path(s) of the file(s) concerned.  Being a
    ``ValueError``, it surfaces through ``tf.numpy_function`` inside a
    ``tf.data`` pipeline as ``tf.errors.InvalidArgumentError`` with the same
    text.
    """


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
        raise DataFileError(f"image file not found: '{path}'")
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


def _binary_mask_array(image: Image.Image, path: str) -> np.ndarray:
    if image.mode == "1":
        binary = np.asarray(image, dtype=bool)
    elif image.mode == "P":
        binary = np.asarray(image) > 0
    elif image.mode in ("L", "LA", "RGB", "RGBA"):
        grey = image.convert("L") if image.mode != "L" else image
        binary = np.asarray(grey) >= MASK_THRESHOLD
    else:
        raise DataFileError(
            f"unsupported mask image mode {image.mode!r} in '{path}'; "
            "expected an 8-bit grey, RGB, palette or 1-bit image"
        )
    return binary.astype(np.uint8)[:, :, np.newaxis]


def load_rgb_image(path: PathLike) -> np.ndarray:
    """Read an image file as an RGB ``uint8`` array of shape ``[H, W, 3]``.

    Grey-scale, palette and RGBA files are converted to RGB (alpha dropped).

    Raises:
        DataFileError: the file is missing, corrupt or not an image; the
            message names the file.
    """
    return _decode(_as_str_path(path), _rgb_array)


def load_binary_mask(path: PathLike) -> np.ndarray:
    """Read a segmentation mask as a ``uint8`` array ``[H, W, 1]`` of 0/1.

    Interpretation by image mode:

    * ``"1"``: as is;
    * ``"L"``/``"LA"``/``"RGB"``/``"RGBA"``: luminance >= :data:`MASK_THRESHOLD`
      (DAVIS-2016 and saliency masks are 8-bit grey, 0/255);
    * ``"P"`` (palette, DAVIS-2017 style): any non-zero index is object.

    Raises:
        DataFileError: the file is missing, corrupt, or in a mode that has no
            unambiguous binary reading (e.g. 16-bit or float).
    """
    return _decode(_as_str_path(path), _binary_mask_array)


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
