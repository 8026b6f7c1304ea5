"""Frames already in memory."""
from __future__ import annotations

import numpy as np

from cosnet_tf.data.decoding import DataFileError
from cosnet_tf.inference.frame_source import FrameSource


class ArrayFrameSource(FrameSource):
    """A video held in memory: a ``[T, H, W, 3]`` array or a list of ``[H, W, 3]`` arrays.

    ``uint8`` frames are used as they are; floating-point frames (0..255) are
    rounded to ``uint8`` one at a time when read, because the dense CRF and
    the overlays work on 8-bit images (the model itself sees floats either way).

    Raises:
        DataFileError: no frames, a frame that is not RGB ``[H, W, 3]``, or
            frames of mixed sizes (the message gives the frame's index).

    Example:

    >>> import numpy as np
    >>> source = ArrayFrameSource(np.full((2, 3, 4, 3), 7.6, np.float32))
    >>> source.read_frames([1])[1][0, 0].tolist()
    [8, 8, 8]
    """

    def __init__(self, frames, name="frames"):
        self.name = name
        self._frames = frames
        if len(frames) == 0:
            raise DataFileError(f"{name!r} has no frames")
        shape = np.shape(frames[0])
        if len(shape) != 3 or shape[-1] != 3:
            raise DataFileError(f"frames must be RGB [H, W, 3]; frame 0 of {name!r} has shape {shape}")
        # A list may mix sizes; an array cannot, so only lists are walked.
        if not isinstance(frames, np.ndarray):
            for index, frame in enumerate(frames):
                if np.shape(frame) != shape:
                    raise DataFileError(
                        f"frame {index} of {name!r} has shape {np.shape(frame)} but frame 0 has "
                        f"{shape}; all frames of a video must have one size"
                    )
        self._size = (int(shape[0]), int(shape[1]))

    def __len__(self):
        return len(self._frames)

    @property
    def frame_size(self):
        return self._size

    def _read(self, index):
        frame = np.asarray(self._frames[index])
        if frame.dtype != np.uint8:
            frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        return frame
