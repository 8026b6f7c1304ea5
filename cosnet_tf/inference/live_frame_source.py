"""Frames that arrive one at a time and are read once: a camera, a network stream, a pipe.

Unlike a :class:`~cosnet_tf.inference.FrameSource`, a live source has no length and no
random access: only ``iter_frames()``, in order, each frame as soon as it is there. Online
segmentation (`OnlineSegmenter`, `cosnet segment --online`) reads these and frame sources alike.
"""
from __future__ import annotations

import os

import numpy as np

from cosnet_tf.data.decoding import DataFileError
from cosnet_tf.inference.video_frame_source import decoded_frames


class LiveFrameSource:
    """The interface of a live source: ``name``, ``fps`` (or None), ``iter_frames()``.

    ``iter_frames()`` yields ``(index, uint8 [H, W, 3] RGB frame)`` from 0 until the stream
    ends; every frame has the first frame's size (a `DataFileError` otherwise).
    """

    name = "stream"
    fps = None

    def _frames(self):
        raise NotImplementedError

    def iter_frames(self):
        size = None
        for index, frame in enumerate(self._frames()):
            if size is None:
                size = frame.shape
            elif frame.shape != size:
                raise DataFileError(
                    f"frame {index} of {self.describe()} is {frame.shape[1]}x{frame.shape[0]} (WxH) but "
                    f"frame 0 is {size[1]}x{size[0]}; all frames of a stream must have one size"
                )
            yield index, frame

    def describe(self):
        return repr(self.name)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class RawFrameStream(LiveFrameSource):
    """Raw RGB24 frames from a binary stream (stdin): H * W * 3 bytes per frame, rows top first.

    The format ``ffmpeg -i INPUT -f rawvideo -pix_fmt rgb24 -`` writes; the size is not in the
    stream, so it is given. A frame is yielded as soon as its last byte arrives.

    Args:
        stream: a binary file object (``sys.stdin.buffer``, a pipe).
        size: (height, width) of every frame.
        name: the stream's name.

    Raises:
        DataFileError: while reading, when the stream ends part-way through a frame.

    Example:

    >>> import io
    >>> data = np.arange(2 * 2 * 3 * 3, dtype=np.uint8).tobytes()
    >>> [(i, f.shape, int(f[1, 1, 2])) for i, f in RawFrameStream(io.BytesIO(data), (2, 3)).iter_frames()]
    [(0, (2, 3, 3), 14), (1, (2, 3, 3), 32)]
    """

    def __init__(self, stream, size, name="stdin"):
        height, width = (int(v) for v in size)
        if height < 1 or width < 1:
            raise ValueError(f"the frame size must be positive, got {size!r}")
        self.stream, self.frame_size, self.name = stream, (height, width), name

    def describe(self):
        return f"raw RGB24 stream {self.name!r}"

    def _frames(self):
        height, width = self.frame_size
        frame_bytes = height * width * 3
        while True:
            buffer = bytearray(frame_bytes)
            view, filled = memoryview(buffer), 0
            while filled < frame_bytes:
                # Asking for no more than the frame's missing bytes: a frame never waits for the next one.
                count = self.stream.readinto(view[filled:])
                if not count:
                    break
                filled += count
            if filled == 0:
                return
            if filled < frame_bytes:
                raise DataFileError(
                    f"{self.describe()} ended part-way through a frame ({filled} of {frame_bytes} bytes of a "
                    f"{width}x{height} RGB24 frame): is the frame size right?"
                )
            yield np.frombuffer(buffer, np.uint8).reshape(height, width, 3)


class PyAVStreamSource(LiveFrameSource):
    """A live stream PyAV opens: a V4L2 camera (``/dev/video0``), an ``rtsp://`` or ``http://`` URL.

    Args:
        url: the device or URL (anything ``av.open`` takes; a ``/dev/video*`` path is opened
            with the ``v4l2`` format).
        name: the stream's name (default: the last part of the URL or device path).
        timeout: seconds to wait for the source to open or send data.

    Raises:
        ImportError: PyAV is not installed.
        DataFileError: the source cannot be opened, has no video stream or a frame cannot be decoded.
    """

    def __init__(self, url, name=None, timeout=30.0):
        from cosnet_tf.utils.extras import require

        self.url = os.fspath(url)
        self.name = name or os.path.splitext(os.path.basename(self.url.rstrip("/")))[0] or "stream"
        self.timeout = timeout
        self._av = require("av", "video", f"reading the stream '{self.url}'")
        self._container = self._open()
        if not self._container.streams.video:
            self._container.close()
            raise DataFileError(f"'{self.url}' has no video stream")
        stream = self._container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else None

    def describe(self):
        return f"stream '{self.url}'"

    def _open(self):
        av = self._av
        fmt = "v4l2" if self.url.startswith("/dev/video") else None
        try:
            return av.open(self.url, format=fmt, timeout=self.timeout)
        except (av.error.FFmpegError, OSError, ValueError) as error:
            raise DataFileError(f"cannot open stream '{self.url}': {error}") from error

    def _frames(self):
        av = self._av
        container = self._container
        with container:
            for _, frame in decoded_frames(av, container.decode(container.streams.video[0]), self.describe()):
                yield frame.to_ndarray(format="rgb24")
