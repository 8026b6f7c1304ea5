"""Synthetic videos in the DAVIS layout, for tests and smoke training.

Each sequence is built to exercise what COSNet is about -- telling the object
that persists through the video from look-alikes that come and go:

* a textured background (smoothed noise plus stripes) that pans, so a model
  cannot segment by "whatever moves";
* one primary object (a lobed ellipse with its own colour and a checker
  texture that moves with it) present in every frame, following a smooth
  path while its axes, rotation and lobes change;
* distractors with the primary object's colour and texture, each visible only
  during part of the video and never part of the mask.

Everything is numpy + Pillow and deterministic for a seed: each sequence and
each saliency image has its own random stream derived from ``(seed, kind,
index)``, so generating more sequences does not change the earlier ones.

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import SyntheticVideoGenerator
    >>> generator = SyntheticVideoGenerator(num_sequences=2, num_frames=5,
    ...                                     image_size=(48, 64), seed=3)
    >>> sequence = generator.render_sequence(0)
    >>> sequence.frames.shape, sequence.masks.shape, sequence.distractor_masks.shape
    ((5, 48, 64, 3), (5, 48, 64), (5, 2, 48, 64))
    >>> bool(sequence.masks.any(axis=(1, 2)).all())    # object in every frame
    True
    >>> bool((sequence.masks[:, None] & sequence.distractor_masks).any())
    False
    >>> root = generator.write_davis(tempfile.mkdtemp())
    >>> sorted(path.name for path in (root / "JPEGImages" / "480p").iterdir())
    ['synthetic-000', 'synthetic-001']
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image

PathLike = Union[str, os.PathLike]

# Independent random streams per kind of item (see _rng).
_VIDEO_STREAM = 0
_SALIENCY_STREAM = 1


@dataclasses.dataclass(frozen=True)
class SyntheticSequence:
    """One rendered synthetic video and its ground truth.

    Attributes:
        name: sequence name.
        frames: ``uint8 [T, H, W, 3]`` RGB frames (before JPEG compression).
        masks: ``bool [T, H, W]`` primary object.
        distractor_masks: ``bool [T, D, H, W]`` visible pixels of each
            distractor (all False in the frames where it is absent).
    """

    name: str
    frames: np.ndarray
    masks: np.ndarray
    distractor_masks: np.ndarray

    @property
    def distractor_presence(self) -> np.ndarray:
        """``bool [T, D]``: which distractors are visible in which frame."""
        return self.distractor_masks.any(axis=(2, 3))


@dataclasses.dataclass(frozen=True)
class _Blob:
    """A lobed, rotated ellipse: the shape of objects and distractors."""

    center_y: float
    center_x: float
    axis_a: float
    axis_b: float
    rotation: float
    lobes: int
    lobe_amplitude: float
    lobe_phase: float

    def rasterize(self, grid_y: np.ndarray, grid_x: np.ndarray):
        """Return (inside, u, v): the coverage and object-frame coordinates."""
        dy = grid_y - self.center_y
        dx = grid_x - self.center_x
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        u = dx * cos + dy * sin
        v = -dx * sin + dy * cos
        nu, nv = u / self.axis_a, v / self.axis_b
        radius = np.sqrt(nu * nu + nv * nv)
        angle = np.arctan2(nv, nu)
        inside = radius <= 1.0 + self.lobe_amplitude * np.sin(self.lobes * angle + self.lobe_phase)
        return inside, u, v


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth random field in [-1, 1]: coarse noise upsampled bicubically."""
    coarse = rng.standard_normal((max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)))
    field = np.asarray(
        Image.fromarray(coarse.astype(np.float32), mode="F").resize((width, height), Image.BICUBIC),
        dtype=np.float32,
    )
    return field / max(float(np.abs(field).max()), 1e-6)


def _hsv_colour(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), np.float32) * 255.0


class SyntheticVideoGenerator:
    """Generate synthetic DAVIS-style videos and saliency images.

    Args:
        num_sequences: number of videos.
        num_frames: frames per video.
        image_size: ``(height, width)`` of the frames.
        seed: random seed; equal arguments give identical data.
        num_distractors: look-alike objects per video.
        num_val_sequences: videos listed in ``val.txt`` (the last ones);
            default ``num_sequences // 5``, at least 1 when there are two or
            more videos.
        jpeg_quality: quality of the written JPEG frames.
        name_prefix: sequence names are ``f"{name_prefix}-{index:03d}"``.
    """

    def __init__(
        self,
        num_sequences: int = 10,
        num_frames: int = 20,
        image_size: Sequence[int] = (128, 128),
        seed: int = 0,
        *,
        num_distractors: int = 2,
        num_val_sequences: Optional[int] = None,
        jpeg_quality: int = 90,
        name_prefix: str = "synthetic",
    ) -> None:
        if num_sequences < 1 or num_frames < 1:
            raise ValueError("num_sequences and num_frames must be >= 1")
        height, width = (int(value) for value in image_size)
        if height < 16 or width < 16:
            raise ValueError(f"image_size must be at least 16x16, got {image_size}")
        if num_distractors < 0:
            raise ValueError("num_distractors must be >= 0")
        if num_val_sequences is None:
            num_val_sequences = max(1, num_sequences // 5) if num_sequences > 1 else 0
        if not 0 <= num_val_sequences <= num_sequences:
            raise ValueError(f"num_val_sequences must be in [0, {num_sequences}]")
        self.num_sequences = num_sequences
        self.num_frames = num_frames
        self.image_size = (height, width)
        self.seed = int(seed)
        self.num_distractors = num_distractors
        self.num_val_sequences = num_val_sequences
        self.jpeg_quality = jpeg_quality
        self.name_prefix = name_prefix

    # -- names and splits ---------------------------------------------------

    @property
    def sequence_names(self) -> list[str]:
        """All sequence names, in index order."""
        return [f"{self.name_prefix}-{index:03d}" for index in range(self.num_sequences)]

    @property
    def val_sequence_indices(self) -> range:
        """Indices of the videos listed in ``val.txt``: the last ``num_val_sequences``."""
        return range(self.num_sequences - self.num_val_sequences, self.num_sequences)

    @property
    def train_sequence_names(self) -> list[str]:
        """Names listed in ``train.txt``."""
        return self.sequence_names[: self.val_sequence_indices.start]

    @property
    def val_sequence_names(self) -> list[str]:
        """Names listed in ``val.txt``."""
        return self.sequence_names[self.val_sequence_indices.start :]

    def _rng(self, stream: int, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(stream, index)))

    # -- rendering ----------------------------------------------------------

    def _background(self, rng: np.random.Generator, hue: float, pan_frames: int):
        """A pannable textured canvas and per-frame integer offsets."""
        height, width = self.image_size
        direction = rng.uniform(0.0, 2.0 * math.pi)
        speed = rng.uniform(0.5, 2.0)  # pixels per frame
        velocity = (speed * math.sin(direction), speed * math.cos(direction))
        margin_y = int(math.ceil(abs(velocity[0]) * pan_frames)) + 1
        margin_x = int(math.ceil(abs(velocity[1]) * pan_frames)) + 1
        canvas_h, canvas_w = height + margin_y, width + margin_x

        noise = _smooth_noise(rng, canvas_h, canvas_w, cell=rng.uniform(8.0, 20.0))
        grid_y, grid_x = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
        stripe_angle = rng.uniform(0.0, math.pi)
        stripe_period = rng.uniform(8.0, 24.0)
        stripes = np.sin(2.0 * math.pi * (grid_x * math.cos(stripe_angle)
                                          + grid_y * math.sin(stripe_angle)) / stripe_period)
        texture = 0.65 * noise + 0.35 * stripes

        base = _hsv_colour(hue, rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.6))
        amplitude = rng.uniform(25.0, 50.0, size=3).astype(np.float32)
        canvas = base + texture[..., None] * amplitude

        # Start where the whole pan stays inside the canvas.
        start_y = 0 if velocity[0] >= 0 else margin_y - 1
        start_x = 0 if velocity[1] >= 0 else margin_x - 1
        offsets = [(int(round(start_y + velocity[0] * t)), int(round(start_x + velocity[1] * t)))
                   for t in range(pan_frames + 1)]
        return canvas, offsets

    def _object_appearance(self, rng: np.random.Generator, background_hue: float):
        # The object's hue sits far from the background's on the colour circle.
        hue = background_hue + rng.uniform(0.3, 0.7)
        colour = _hsv_colour(hue, rng.uniform(0.6, 0.9), rng.uniform(0.75, 1.0))
        checker_period = rng.uniform(5.0, 10.0)
        return colour, checker_period

    @staticmethod
    def _paint(image: np.ndarray, inside: np.ndarray, u: np.ndarray, v: np.ndarray,
               colour: np.ndarray, checker_period: float) -> None:
        """Paint a textured blob; the texture is in object coordinates."""
        checker = np.sign(np.sin(2.0 * math.pi * u / checker_period)
                          * np.sin(2.0 * math.pi * v / checker_period))
        shade = 1.0 + 0.18 * checker
        image[inside] = colour * shade[inside][:, None]

    def _primary_path(self, rng: np.random.Generator):
        """Per-frame blob parameters of the primary object: smooth motion."""
        height, width = self.image_size
        short = min(height, width)
        axis_a0 = rng.uniform(0.13, 0.2) * short
        axis_b0 = rng.uniform(0.08, 0.13) * short
        center0 = (rng.uniform(0.4, 0.6) * height, rng.uniform(0.4, 0.6) * width)
        amplitude = (rng.uniform(0.1, 0.22) * height, rng.uniform(0.1, 0.22) * width)
        frequency = rng.uniform(0.05, 0.15, size=2) * rng.choice([-1.0, 1.0], size=2)
        phase = rng.uniform(0.0, 2.0 * math.pi, size=5)
        axis_frequency = rng.uniform(0.1, 0.3, size=2)
        rotation0 = rng.uniform(0.0, math.pi)
        spin = rng.uniform(0.03, 0.12) * rng.choice([-1.0, 1.0])
        lobes = int(rng.integers(2, 5))
        lobe_amplitude = rng.uniform(0.08, 0.18)
        lobe_speed = rng.uniform(0.1, 0.3)
        blobs = []
        for t in range(self.num_frames):
            blobs.append(_Blob(
                center_y=center0[0] + amplitude[0] * math.sin(frequency[0] * t + phase[0]),
                center_x=center0[1] + amplitude[1] * math.sin(frequency[1] * t + phase[1]),
                axis_a=axis_a0 * (1.0 + 0.2 * math.sin(axis_frequency[0] * t + phase[2])),
                axis_b=axis_b0 * (1.0 + 0.2 * math.sin(axis_frequency[1] * t + phase[3])),
                rotation=rotation0 + spin * t,
                lobes=lobes,
                lobe_amplitude=lobe_amplitude,
                lobe_phase=phase[4] + lobe_speed * t,
            ))
        return blobs

    def _distractor_path(self, rng: np.random.Generator, primary: list[_Blob]):
        """Blob parameters per frame (None when absent) for one distractor.

        Distractors are active in a contiguous strict subset of the frames and
        keep their centre outside the primary object, so they are visible
        whenever active; the attempt farthest from the object is kept.
        """
        height, width = self.image_size
        count = self.num_frames
        if count < 2:
            return [None] * count  # "only in some frames" needs two frames
        length = int(rng.integers(1, count))  # 1 .. count-1 frames
        start = int(rng.integers(0, count - length + 1))
        size = rng.uniform(0.55, 0.85)
        lobes = int(rng.integers(2, 5))
        lobe_amplitude = rng.uniform(0.05, 0.15)
        rotation0 = rng.uniform(0.0, math.pi)
        spin = rng.uniform(-0.1, 0.1)

        best_path, best_clearance = None, -np.inf
        for _ in range(24):
            origin = np.array([rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width])
            velocity = rng.uniform(-1.5, 1.5, size=2)
            path = []
            clearance = np.inf
            for t in range(start, start + length):
                center = np.clip(origin + velocity * (t - start),
                                 [0.08 * height, 0.08 * width], [0.92 * height, 0.92 * width])
                blob = primary[t]
                reach = 1.25 * max(blob.axis_a, blob.axis_b) * (1.0 + blob.lobe_amplitude)
                distance = math.hypot(center[0] - blob.center_y, center[1] - blob.center_x)
                clearance = min(clearance, distance - reach)
                path.append(center)
            if clearance > best_clearance:
                best_path, best_clearance = path, clearance
            if clearance > 0:
                break

        blobs: list[Optional[_Blob]] = [None] * count
        for offset, center in enumerate(best_path):
            t = start + offset
            blobs[t] = _Blob(
                center_y=float(center[0]), center_x=float(center[1]),
                axis_a=primary[t].axis_a * size, axis_b=primary[t].axis_b * size,
                rotation=rotation0 + spin * t, lobes=lobes,
                lobe_amplitude=lobe_amplitude, lobe_phase=0.2 * t,
            )
        return blobs

    def render_sequence(self, index: int) -> SyntheticSequence:
        """Render video ``index`` (0-based) in memory."""
        if not 0 <= index < self.num_sequences:
            raise IndexError(f"sequence index {index} out of range [0, {self.num_sequences})")
        rng = self._rng(_VIDEO_STREAM, index)
        height, width = self.image_size
        count = self.num_frames

        background_hue = rng.uniform(0.0, 1.0)
        canvas, offsets = self._background(rng, background_hue, count - 1)
        colour, checker_period = self._object_appearance(rng, background_hue)
        primary = self._primary_path(rng)
        distractors = [self._distractor_path(rng, primary) for _ in range(self.num_distractors)]
        # Look-alikes: the object's colour with a barely visible shift.
        distractor_colours = [np.clip(colour + rng.uniform(-12.0, 12.0, size=3), 0, 255)
                              for _ in range(self.num_distractors)]
        noise_level = rng.uniform(2.0, 5.0)

        grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
        frames = np.empty((count, height, width, 3), np.uint8)
        masks = np.empty((count, height, width), bool)
        distractor_masks = np.zeros((count, self.num_distractors, height, width), bool)
        for t in range(count):
            offset_y, offset_x = offsets[t]
            image = canvas[offset_y:offset_y + height, offset_x:offset_x + width].copy()
            # Painter's order: distractors first, the primary object on top.
            for d, path in enumerate(distractors):
                if path[t] is None:
                    continue
                inside, u, v = path[t].rasterize(grid_y, grid_x)
                self._paint(image, inside, u, v, distractor_colours[d], checker_period)
                distractor_masks[t, :d] &= ~inside  # later distractors cover earlier ones
                distractor_masks[t, d] = inside
            inside, u, v = primary[t].rasterize(grid_y, grid_x)
            self._paint(image, inside, u, v, colour, checker_period)
            distractor_masks[t] &= ~inside
            masks[t] = inside
            image += rng.normal(0.0, noise_level, size=image.shape).astype(np.float32)
            frames[t] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        return SyntheticSequence(self.sequence_names[index], frames, masks, distractor_masks)

    def render_saliency_image(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Render still image ``index``: ``(uint8 [H, W, 3], bool [H, W])``."""
        rng = self._rng(_SALIENCY_STREAM, index)
        height, width = self.image_size
        background_hue = rng.uniform(0.0, 1.0)
        canvas, _ = self._background(rng, background_hue, 0)
        image = canvas[:height, :width].copy()
        colour, checker_period = self._object_appearance(rng, background_hue)
        # One frame of a primary-object path is a random blob.
        blob = dataclasses.replace(self._primary_path(rng)[0],
                                   rotation=rng.uniform(0.0, math.pi))
        grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
        inside, u, v = blob.rasterize(grid_y, grid_x)
        self._paint(image, inside, u, v, colour, checker_period)
        image += rng.normal(0.0, 3.0, size=image.shape).astype(np.float32)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8), inside

    # -- writing ------------------------------------------------------------

    def write_davis(self, root: PathLike, resolution: str = "480p") -> Path:
        """Write all videos in the DAVIS-2016 layout under ``root``.

        Writes ``JPEGImages/<resolution>/<seq>/%05d.jpg``,
        ``Annotations/<resolution>/<seq>/%05d.png`` (8-bit, 0/255) and
        ``ImageSets/<resolution>/{train,val}.txt`` in the DAVIS-2016
        frame-level format (``val.txt`` only when there are validation
        sequences).  The folder name says ``480p`` whatever the actual size,
        as readers expect.  Existing files are overwritten.

        Returns:
            ``root`` as a :class:`~pathlib.Path`.
        """
        root = Path(root)
        split_lines: dict[str, list[str]] = {}
        for index, name in enumerate(self.sequence_names):
            sequence = self.render_sequence(index)
            frame_dir = root / "JPEGImages" / resolution / name
            mask_dir = root / "Annotations" / resolution / name
            frame_dir.mkdir(parents=True, exist_ok=True)
            mask_dir.mkdir(parents=True, exist_ok=True)
            split = "train" if name in self.train_sequence_names else "val"
            lines = split_lines.setdefault(split, [])
            for t in range(self.num_frames):
                stem = f"{t:05d}"
                Image.fromarray(sequence.frames[t]).save(
                    frame_dir / f"{stem}.jpg", quality=self.jpeg_quality)
                Image.fromarray(sequence.masks[t].astype(np.uint8) * 255).save(
                    mask_dir / f"{stem}.png")
                lines.append(f"/JPEGImages/{resolution}/{name}/{stem}.jpg "
                             f"/Annotations/{resolution}/{name}/{stem}.png")
        split_dir = root / "ImageSets" / resolution
        split_dir.mkdir(parents=True, exist_ok=True)
        for split, lines in split_lines.items():
            (split_dir / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return root

    def write_saliency(self, root: PathLike, num_images: int = 20, *,
                       image_dirname: str = "images",
                       mask_dirname: str = "masks") -> tuple[Path, Path]:
        """Write a still-image saliency set: ``images/*.jpg`` + ``masks/*.png``.

        File stems are ``image-00000``, ``image-00001``, ...

        Returns:
            ``(image_dir, mask_dir)``, ready for :class:`SaliencyDataset`.
        """
        if num_images < 1:
            raise ValueError("num_images must be >= 1")
        image_dir = Path(root) / image_dirname
        mask_dir = Path(root) / mask_dirname
        image_dir.mkdir(parents=True, exist_ok=True)
        mask_dir.mkdir(parents=True, exist_ok=True)
        for index in range(num_images):
            image, mask = self.render_saliency_image(index)
            stem = f"image-{index:05d}"
            Image.fromarray(image).save(image_dir / f"{stem}.jpg", quality=self.jpeg_quality)
            Image.fromarray(mask.astype(np.uint8) * 255).save(mask_dir / f"{stem}.png")
        return image_dir, mask_dir
