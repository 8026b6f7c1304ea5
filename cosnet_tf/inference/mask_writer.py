"""Writing a video's segmentation to disk: masks, probability maps, overlays."""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
from PIL import Image

from cosnet_tf.utils.atomic import atomic_output_path, temporary_path_beside

#: Prefix of temporary files (ending ".part"): a killed run leaves nothing that reads as a mask.
PARTIAL_PREFIX = ".cosnet-partial-"

_OVERLAY_COLOUR = np.array([255, 40, 40], np.float32)


def _atomic_save(path, save):
    """Calls ``save(temporary_path)`` and renames the result onto ``path``.

    A hard kill can leave the temporary file behind, hidden and named
    ``.cosnet-partial-*.part``, which no mask reader picks up.
    """
    prefix = f"{PARTIAL_PREFIX}{os.path.basename(path)}-"
    with atomic_output_path(path, prefix=prefix, suffix=".part") as temporary:
        save(temporary)


def write_png(path, array):
    """Writes a uint8 or uint16 grey array as a PNG, atomically."""
    image = Image.fromarray(np.ascontiguousarray(array))
    _atomic_save(path, lambda temporary: image.save(temporary, format="PNG"))


def overlay_mask(frame, mask, alpha=0.5):
    """The frame with the mask tinted red and outlined (uint8 RGB).

    >>> frame = np.zeros((4, 4, 3), np.uint8)
    >>> mask = np.zeros((4, 4), bool); mask[1:3, 1:3] = True
    >>> overlay_mask(frame, mask)[1, 1].tolist(), overlay_mask(frame, mask)[0, 0].tolist()
    ([255, 40, 40], [0, 0, 0])
    """
    mask = np.asarray(mask) > 0
    out = np.asarray(frame, np.float32).copy()
    out[mask] = (1 - alpha) * out[mask] + alpha * _OVERLAY_COLOUR
    # The outline in full colour keeps thin or faint objects visible.
    padded = np.pad(mask, 1, mode="edge")
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    out[mask & ~interior] = _OVERLAY_COLOUR
    return np.rint(out).astype(np.uint8)


class MaskWriter:
    """Writes one video's results as DAVIS-style files, each atomically, as they arrive.

    * ``out_dir/%05d.png``: the mask, 0/255 grey, at the frame's resolution
      (the layout ``cosnet evaluate`` reads).
    * with ``probability_dir``: ``%05d.png`` probability maps, 8-bit
      (``round(255 p)``) or 16-bit (``round(65535 p)``).
    * with ``overlay_dir``: ``%05d.jpg`` frames with the mask tinted, and on
      :meth:`close` the video ``overlay_dir/<video_name>.mp4`` (PyAV).

    Every file is written to a hidden temporary name and renamed into place,
    so an interrupted run leaves complete files only; the overlay video
    appears only once it is finished.

    Args:
        out_dir: folder of the masks (created).
        threshold: foreground where probability > threshold.
        probability_dir: folder of the probability maps, or None.
        probability_bits: 8 or 16.
        overlay_dir: folder of the overlays, or None.
        fps: frame rate of the overlay video (default 25).
        video_name: file name (without ``.mp4``) of the overlay video.

    Example:

    >>> import tempfile, os
    >>> out = tempfile.mkdtemp()
    >>> with MaskWriter(out, probability_dir=os.path.join(out, "p"), probability_bits=16) as writer:
    ...     writer.write(0, np.full((4, 6), 0.75, np.float32))
    >>> sorted(os.listdir(out)), os.listdir(os.path.join(out, "p"))
    (['00000.png', 'p'], ['00000.png'])
    """

    def __init__(self, out_dir, threshold=0.5, probability_dir=None, probability_bits=8,
                 overlay_dir=None, fps=None, video_name="overlay"):
        if probability_bits not in (8, 16):
            raise ValueError(f"probability_bits must be 8 or 16, got {probability_bits!r}")
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
        self.out_dir = os.fspath(out_dir)
        self.threshold = float(threshold)
        self.probability_dir = None if probability_dir is None else os.fspath(probability_dir)
        self.probability_bits = int(probability_bits)
        self.overlay_dir = None if overlay_dir is None else os.fspath(overlay_dir)
        self.fps = float(fps) if fps else 25.0
        self.video_name = video_name
        self.written = 0
        self._video = None
        for folder in (self.out_dir, self.probability_dir, self.overlay_dir):
            if folder is not None:
                os.makedirs(folder, exist_ok=True)

    def mask_path(self, index):
        return os.path.join(self.out_dir, f"{index:05d}.png")

    def write(self, index, probability, frame=None):
        """Writes frame ``index``'s files from its [H, W] probability (and RGB frame for overlays)."""
        probability = np.clip(np.asarray(probability, np.float32), 0.0, 1.0)
        if probability.ndim == 3 and probability.shape[-1] == 1:
            probability = probability[..., 0]
        mask = probability > self.threshold
        write_png(self.mask_path(index), np.where(mask, 255, 0).astype(np.uint8))
        if self.probability_dir is not None:
            if self.probability_bits == 16:
                grey = np.rint(probability * 65535).astype(np.uint16)
            else:
                grey = np.rint(probability * 255).astype(np.uint8)
            write_png(os.path.join(self.probability_dir, f"{index:05d}.png"), grey)
        if self.overlay_dir is not None:
            if frame is None:
                raise ValueError("overlays need the frame: pass frame= to write()")
            self._write_overlay(index, overlay_mask(frame, mask))
        self.written += 1

    def _write_overlay(self, index, image):
        picture = Image.fromarray(image)
        path = os.path.join(self.overlay_dir, f"{index:05d}.jpg")
        _atomic_save(path, lambda temporary: picture.save(temporary, format="JPEG", quality=90))
        if self._video is None:
            self._video = _OverlayVideo(
                os.path.join(self.overlay_dir, f"{self.video_name}.mp4"), image.shape, self.fps
            )
        self._video.add(image)

    def close(self, discard=False):
        """Finishes the overlay video (or with ``discard``, drops the unfinished one)."""
        video, self._video = self._video, None
        if video is not None:
            video.close(discard=discard)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.close(discard=exc_type is not None)
        return False


class _OverlayVideo:
    """An H.264 (or MPEG-4) video written to a temporary file, renamed when complete."""

    def __init__(self, path, shape, fps):
        from cosnet_tf.utils.extras import require

        av = require("av", "video", "writing the overlay video")
        self.path = path
        self.temporary = temporary_path_beside(
            path, prefix=f"{PARTIAL_PREFIX}{os.path.basename(path)}-", suffix=".part"
        )
        # yuv420p halves the chroma resolution, so the encoders want even sizes.
        self.height, self.width = shape[0] + shape[0] % 2, shape[1] + shape[1] % 2
        self.container = av.open(self.temporary, mode="w", format="mp4")
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self.stream = self.container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, "yuv420p"
        self._av = av

    def add(self, image):
        if image.shape[0] != self.height or image.shape[1] != self.width:
            image = np.pad(
                image, ((0, self.height - image.shape[0]), (0, self.width - image.shape[1]), (0, 0)),
                mode="edge",
            )
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        self.container.mux(self.stream.encode(frame))

    def close(self, discard=False):
        try:
            if not discard:
                self.container.mux(self.stream.encode())  # flush the encoder
            self.container.close()
            if not discard:
                os.replace(self.temporary, self.path)
        finally:
            if os.path.exists(self.temporary):
                os.unlink(self.temporary)
