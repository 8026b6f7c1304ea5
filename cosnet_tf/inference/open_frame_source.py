"""Picks the frame source for whatever a user passes as a video."""
from __future__ import annotations

import os

from cosnet_tf.inference.array_frame_source import ArrayFrameSource
from cosnet_tf.inference.frame_source import FrameSource
from cosnet_tf.inference.image_frame_source import ImageFrameSource
from cosnet_tf.inference.video_frame_source import VideoFileFrameSource


def open_frame_source(source, name=None):
    """A :class:`FrameSource` for ``source``.

    Args:
        source: a :class:`FrameSource` (returned as is); a ``[T, H, W, 3]``
            array or a list of ``[H, W, 3]`` arrays; a list of image paths; a
            folder of frames (image files sorted by name, natural order); or a
            video file (decoded with PyAV, ``pip install av``).
        name: the video's name (default: from the folder or file name).

    Raises:
        FileNotFoundError: the path does not exist.
        DataFileError: no frames, frames of mixed sizes, or an unreadable
            frame or video (the message names the file).
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return ImageFrameSource.from_folder(path, name=name)
        if os.path.isfile(path):
            return VideoFileFrameSource(path, name=name)
        raise FileNotFoundError(f"input not found: '{path}'")
    if isinstance(source, (list, tuple)) and source and all(
        isinstance(item, (str, os.PathLike)) for item in source
    ):
        return ImageFrameSource(source, name=name)
    return ArrayFrameSource(source, name=name or "frames")
