"""Picks the frame source for whatever a user passes as a video (or, online, a live stream)."""
from __future__ import annotations

import os
import sys

from cosnet_tf.inference.array_frame_source import ArrayFrameSource
from cosnet_tf.inference.frame_source import FrameSource
from cosnet_tf.inference.image_frame_source import ImageFrameSource
from cosnet_tf.inference.live_frame_source import LiveFrameSource, PyAVStreamSource, RawFrameStream
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


def is_live_input(source):
    """Whether ``source`` names a live stream: ``-`` (stdin), a URL, or a device under /dev."""
    if not isinstance(source, (str, os.PathLike)):
        return hasattr(source, "readinto")
    path = os.fspath(source)
    return path == "-" or "://" in path or (path.startswith("/dev/") and not os.path.isfile(path))


def open_online_source(source, stdin_size=None, name=None):
    """What online segmentation reads: a live source, or any :func:`open_frame_source` input.

    Args:
        source: a live source (returned as is), ``"-"`` for raw RGB24 frames on stdin, a binary stream of them, a URL or a
            device PyAV opens (``rtsp://...``, ``http://...``, ``/dev/video0``), or anything
            :func:`open_frame_source` takes (read once, in order).
        stdin_size: (height, width) of raw frames (``"-"`` or a binary stream).
        name: the video's name.

    Returns:
        A :class:`~cosnet_tf.inference.live_frame_source.LiveFrameSource` or a :class:`FrameSource`;
        both have ``iter_frames()``, ``name`` and ``fps``.
    """
    if isinstance(source, LiveFrameSource):
        return source
    if not is_live_input(source):
        return open_frame_source(source, name=name)
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        return PyAVStreamSource(source, name=name)
    if stdin_size is None:
        raise ValueError("raw RGB24 frames on stdin need their size: --stdin-size H W (stdin_size=(H, W))")
    stream = sys.stdin.buffer if isinstance(source, str) else source
    return RawFrameStream(stream, stdin_size, name=name or "stdin")
