"""Frames decoded from a video file with PyAV (``pip install av``)."""
from __future__ import annotations

import os

from cosnet_tf.data.decoding import DataFileError
from cosnet_tf.inference.frame_source import FrameSource

#: File name endings read as videos in a folder of videos (case-insensitive).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv", ".flv", ".ts",
                    ".y4m", ".gif")


def _import_av(path):
    from cosnet_tf.utils.extras import require

    av = require("av", "video", f"reading the video '{path}' (or pass a folder of its frames)")
    return av



def decoded_frames(av, frames, what):
    """(index, frame) of PyAV's `frames` iterator; a decoding error becomes a DataFileError naming `what`."""
    index = 0
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except (av.error.FFmpegError, OSError, ValueError) as error:
            raise DataFileError(f"cannot decode frame {index} of {what}: {error}") from error
        yield index, frame
        index += 1

class VideoFileFrameSource(FrameSource):
    """A video file, decoded lazily: frames are never all held in memory.

    Construction makes one decoding pass without colour conversion to count
    the frames and check that they share one size (container metadata is
    often missing or wrong, and a segmenter needs the true count to place its
    global references). Reading then decodes again from the start: in order
    for ``iter_frames``, and for ``read_frames`` one pass that stops at the
    last requested frame, keeping only the requested ones.

    Args:
        path: the video file (any container/codec FFmpeg reads).
        name: the video's name (default: the file name without its extension).

    Raises:
        FileNotFoundError: no such file.
        ImportError: PyAV is not installed.
        DataFileError: the file is not a readable video, has no video stream
            or no frames, a frame cannot be decoded, or the frame size
            changes within the video (the message names the file and frame).

    Example:

    >>> import tempfile, numpy as np, av
    >>> path = tempfile.mkdtemp() + "/clip.mp4"
    >>> with av.open(path, "w") as container:
    ...     stream = container.add_stream("mpeg4", rate=25)
    ...     stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
    ...     for i in range(5):
    ...         frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 40 * i, np.uint8), format="rgb24")
    ...         container.mux(stream.encode(frame))
    ...     container.mux(stream.encode())
    >>> source = VideoFileFrameSource(path)
    >>> source.name, len(source), source.frame_size, source.fps
    ('clip', 5, (24, 32), 25.0)
    >>> sorted(source.read_frames([4, 1]))
    [1, 4]
    """

    def __init__(self, path, name=None):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"video file not found: '{self.path}'")
        self.name = name or os.path.splitext(os.path.basename(self.path))[0]
        self._av = _import_av(self.path)
        self._length, self._size, self.fps = self._scan()

    def _error(self, message, error=None):
        detail = f": {error}" if error is not None else ""
        return DataFileError(f"{message}{detail}")

    def _decode(self):
        """Yields the decoded ``av.VideoFrame`` objects of the first video stream, in order."""
        av = self._av
        try:
            container = av.open(self.path)
        except (av.error.FFmpegError, OSError, ValueError) as error:
            raise self._error(f"cannot open video '{self.path}' (corrupt or not a video)", error) from error
        with container:
            if not container.streams.video:
                raise self._error(f"'{self.path}' has no video stream")
            stream = container.streams.video[0]
            # Frame threading speeds decoding up but changes nothing in the output.
            stream.thread_type = "AUTO"
            for index, frame in decoded_frames(av, container.decode(stream), f"video '{self.path}'"):
                yield index, frame, stream

    def _scan(self):
        size = None
        fps = None
        count = 0
        for index, frame, stream in self._decode():
            if size is None:
                size = (frame.height, frame.width)
                rate = stream.average_rate or stream.guessed_rate
                fps = float(rate) if rate else None
            elif (frame.height, frame.width) != size:
                raise self._error(
                    f"frame {index} of video '{self.path}' is {frame.width}x{frame.height} (WxH) but "
                    f"frame 0 is {size[1]}x{size[0]}; all frames of a video must have one size"
                )
            count = index + 1
        if count == 0:
            raise self._error(f"video '{self.path}' has no frames")
        return count, size, fps

    def __len__(self):
        return self._length

    @property
    def frame_size(self):
        return self._size

    def describe(self, index):
        return f"frame {index} of video '{self.path}'"

    def _rgb(self, index, frame):
        return self._check_frame(index, frame.to_ndarray(format="rgb24"))

    def iter_frames(self, start=0):
        count = 0
        for index, frame, _ in self._decode():
            count = index + 1
            if index >= start:
                yield index, self._rgb(index, frame)
        if count != self._length:
            raise self._error(
                f"video '{self.path}' decoded to {count} frames, but {self._length} when it was "
                "opened; was the file changed meanwhile?"
            )

    def read_frames(self, indices):
        wanted = sorted(set(int(i) for i in indices))
        if not wanted:
            return {}
        if wanted[0] < 0 or wanted[-1] >= self._length:
            raise IndexError(f"frames {wanted} are not all in '{self.path}' ({self._length} frames)")
        frames = {}
        for index, frame, _ in self._decode():
            if index in wanted:
                frames[index] = self._rgb(index, frame)
            if index >= wanted[-1]:
                break
        return frames
