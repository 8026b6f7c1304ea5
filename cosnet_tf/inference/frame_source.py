"""Where a video's frames come from: the interface every frame source follows.

A segmenter reads a video twice in different orders: the global reference
frames first (random access to a few frames), then every frame in order. A
source therefore offers both, and decodes frames only when asked, so a long
video never sits in memory. Sources check what they can cheaply before any
model work starts (the frame count, one frame size for all frames) and report
problems as :class:`~cosnet_tf.data.DataFileError` (a ``ValueError``) naming
the file.

Sources: :class:`~cosnet_tf.inference.ArrayFrameSource` (frames in memory),
:class:`~cosnet_tf.inference.ImageFrameSource` (image files: a folder, a
list of paths, or the sequences of a DAVIS root) and
:class:`~cosnet_tf.inference.VideoFileFrameSource` (a video file, PyAV).
:func:`~cosnet_tf.inference.open_frame_source` (its own module, which imports the
sources) picks one for a path, array or list.
"""
from __future__ import annotations

import numpy as np

from cosnet_tf.data.decoding import DataFileError


class FrameSource:
    """The frames of one video: ``len``, ``frame_size``, in-order and random access.

    Subclasses implement ``__len__``, ``frame_size``, ``_read(index)`` (one
    frame, random access) and may override ``iter_frames`` when sequential
    reading is cheaper (video files). Frames are RGB ``uint8 [H, W, 3]``.

    Attributes:
        name: the video's name (a DAVIS sequence, a folder or file name);
            output folders are named after it.
        fps: frames per second when the source knows it (video files), else None.

    Example:

    >>> import numpy as np
    >>> from cosnet_tf.inference import open_frame_source
    >>> source = open_frame_source(np.zeros((3, 4, 5, 3), np.uint8))
    >>> len(source), source.frame_size
    (3, (4, 5))
    >>> [index for index, _ in source.iter_frames(start=1)]
    [1, 2]
    >>> sorted(source.read_frames([2, 0]))
    [0, 2]
    """

    name = "video"
    fps = None

    def __len__(self):
        raise NotImplementedError

    @property
    def frame_size(self):
        """(height, width) of every frame."""
        raise NotImplementedError

    def describe(self, index):
        """Words naming frame ``index`` in error messages (a file path, a video frame)."""
        return f"frame {index} of {self.name!r}"

    def _read(self, index):
        raise NotImplementedError

    def _check_frame(self, index, frame):
        # Catches what headers cannot (header and pixels disagree): a batch never mixes sizes.
        frame = np.asarray(frame)
        height, width = self.frame_size
        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
            raise DataFileError(
                f"{self.describe(index)} is {frame.shape} {frame.dtype}, but the video's frames are "
                f"({height}, {width}, 3) uint8; all frames of a video must have one size"
            )
        return frame

    def iter_frames(self, start=0):
        """Yields ``(index, frame)`` in order from ``start``, decoding one frame at a time."""
        for index in range(start, len(self)):
            yield index, self._check_frame(index, self._read(index))

    def read_frames(self, indices):
        """The frames at ``indices`` as a dict ``index -> frame`` (random access)."""
        frames = {}
        for index in sorted(set(int(i) for i in indices)):
            if not 0 <= index < len(self):
                raise IndexError(f"frame {index} is outside {self.name!r} ({len(self)} frames)")
            frames[index] = self._check_frame(index, self._read(index))
        return frames

    def __repr__(self):
        height, width = self.frame_size
        return f"{type(self).__name__}(name={self.name!r}, frames={len(self)}, size={width}x{height})"
