"""The recurrence benchmark: synthetic videos where only recurrence tells the primary object.

Each video has one primary object whose look -- colour, texture (kind, period,
orientation) and shape family (number of lobes, aspect) -- is drawn once for
the video and kept in every frame, while it moves smoothly and deforms. Every
frame also shows one or two distractors drawn from *the same* distributions
(size range, shape families, textures, hue range and so contrast to the
background), but whose look and position are drawn anew for every frame they
appear in: a distractor never recurs. A single frame therefore holds two or
three equally salient objects and says nothing about which is primary; only a
comparison with other frames of the video does. This is the case the paper's
Fig. 1 describes ("(c) an inferior result without co-attention").

The look-alike distractors of :class:`SyntheticVideoGenerator` are the
opposite case (they share the primary object's look and come and go); both
generators write the same DAVIS layout.

Example:
    >>> from cosnet_tf.data import RecurrenceVideoGenerator
    >>> generator = RecurrenceVideoGenerator(num_sequences=2, num_frames=4,
    ...                                      image_size=(64, 64), seed=0)
    >>> sequence = generator.render_sequence(0)
    >>> sequence.frames.shape, sequence.distractor_masks.shape
    ((4, 64, 64, 3), (4, 2, 64, 64))
    >>> bool(sequence.distractor_presence.any(axis=1).all())   # a distractor in every frame
    True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from cosnet_tf.data.synthetic import (
    _VIDEO_STREAM,
    SyntheticSequence,
    SyntheticVideoGenerator,
    _Blob,
    _hsv_colour,
)

_TEXTURES = ("checker", "stripes", "dots")


@dataclasses.dataclass(frozen=True)
class ObjectLook:
    """What an object looks like: colour, texture and shape family."""

    hue: float
    saturation: float
    value: float
    texture: str  # one of _TEXTURES
    period: float
    orientation: float
    lobes: int
    lobe_amplitude: float
    aspect: float  # axis_b / axis_a

    @property
    def colour(self) -> np.ndarray:
        return _hsv_colour(self.hue, self.saturation, self.value)

    @property
    def mean_colour(self) -> np.ndarray:
        """The colour the object shows on average: its colour times the texture's mean shade.

        Looks are kept apart in this space, since that is what a viewer (or a
        network) averaging over the object sees: a dotted texture darkens a
        colour by about 10%, enough to make two distinct colours look alike.
        """
        # Mean of shade() over a period: +-0.22 around 1, weighted by the
        # pattern's area (dots of radius 0.3 cover pi * 0.09 of each cell).
        bright_fraction = math.pi * 0.09 if self.texture == "dots" else 0.5
        return np.clip(self.colour * (1.0 + 0.22 * (2.0 * bright_fraction - 1.0)), 0.0, 255.0)

    def shade(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Multiplicative texture in object coordinates, around 1."""
        cos, sin = math.cos(self.orientation), math.sin(self.orientation)
        s = (u * cos + v * sin) / self.period
        t = (-u * sin + v * cos) / self.period
        if self.texture == "checker":
            pattern = np.sign(np.sin(2.0 * math.pi * s) * np.sin(2.0 * math.pi * t))
        elif self.texture == "stripes":
            pattern = np.sign(np.sin(2.0 * math.pi * s))
        else:  # dots
            pattern = 2.0 * (np.hypot(s - np.round(s), t - np.round(t)) < 0.3) - 1.0
        return 1.0 + 0.22 * pattern


class RecurrenceVideoGenerator(SyntheticVideoGenerator):
    """Synthetic DAVIS-layout videos in which only recurrence marks the primary object.

    Args:
        num_sequences, num_frames, image_size, seed, num_val_sequences,
        jpeg_quality, name_prefix: as in :class:`SyntheticVideoGenerator`.
        distractors_per_frame: ``(low, high)``: each frame shows between
            ``low`` and ``high`` distractors (inclusive), each with a look
            drawn for that frame alone. ``low`` must be >= 1 so that no frame
            has a lone object.
        min_look_distance: distractor colours (`ObjectLook.mean_colour`) are
            kept at least this far (RGB Euclidean distance) from the primary
            object's and from every other distractor's already drawn in the
            video (best effort: after 64 tries the farthest is taken).
        min_separation: a distractor's centre is kept at least this many times
            the larger reach (long semi-axis plus lobes) from every other
            object's centre (best effort, 24 draws), so objects overlap only
            partly; objects are painted in a random depth order.
    """

    def __init__(
        self,
        num_sequences: int = 10,
        num_frames: int = 20,
        image_size=(128, 128),
        seed: int = 0,
        *,
        distractors_per_frame=(1, 2),
        min_look_distance: float = 30.0,
        min_separation: float = 0.45,
        num_val_sequences: Optional[int] = None,
        jpeg_quality: int = 90,
        name_prefix: str = "recurrence",
    ) -> None:
        low, high = (int(v) for v in distractors_per_frame)
        if not 1 <= low <= high:
            raise ValueError(
                f"distractors_per_frame must be (low, high) with 1 <= low <= high, got {distractors_per_frame}"
            )
        super().__init__(
            num_sequences,
            num_frames,
            image_size,
            seed,
            num_distractors=high,
            num_val_sequences=num_val_sequences,
            jpeg_quality=jpeg_quality,
            name_prefix=name_prefix,
        )
        self.distractors_per_frame = (low, high)
        self.min_look_distance = float(min_look_distance)
        if min_separation < 0:
            raise ValueError(f"min_separation must be >= 0, got {min_separation}")
        self.min_separation = float(min_separation)

    # -- looks --------------------------------------------------------------

    @staticmethod
    def _draw_look(rng: np.random.Generator, background_hue: float) -> ObjectLook:
        # Every object, primary or not, is drawn from this one distribution:
        # hue far from the background's, so all have the same contrast to it.
        return ObjectLook(
            hue=(background_hue + rng.uniform(0.3, 0.7)) % 1.0,
            saturation=rng.uniform(0.55, 0.95),
            value=rng.uniform(0.7, 1.0),
            texture=_TEXTURES[int(rng.integers(len(_TEXTURES)))],
            period=rng.uniform(4.0, 9.0),
            orientation=rng.uniform(0.0, math.pi),
            lobes=int(rng.integers(2, 5)),
            lobe_amplitude=rng.uniform(0.06, 0.18),
            aspect=rng.uniform(0.5, 0.85),
        )

    def _draw_distinct_look(self, rng, background_hue, taken_colours):
        best, best_distance = None, -1.0
        for _ in range(64):
            look = self._draw_look(rng, background_hue)
            distance = min(float(np.linalg.norm(look.mean_colour - c)) for c in taken_colours)
            if distance > best_distance:
                best, best_distance = look, distance
            if distance >= self.min_look_distance:
                break
        return best

    # -- shapes and paths ---------------------------------------------------

    def _size(self, rng: np.random.Generator) -> float:
        """Long semi-axis of an object: one range for primary and distractors."""
        return rng.uniform(0.13, 0.2) * min(self.image_size)

    def _primary_blobs(self, rng: np.random.Generator, look: ObjectLook) -> list[_Blob]:
        """Per-frame blobs of the primary object: smooth motion, deformation, spin.

        Its positions cover the frame as the distractors' do (no "the central
        object is the primary one" cue).
        """
        height, width = self.image_size
        axis_a0 = self._size(rng)
        center0 = (rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width)
        amplitude = (rng.uniform(0.06, 0.18) * height, rng.uniform(0.06, 0.18) * width)
        frequency = rng.uniform(0.1, 0.3, size=2) * rng.choice([-1.0, 1.0], size=2)
        phase = rng.uniform(0.0, 2.0 * math.pi, size=5)
        axis_frequency = rng.uniform(0.1, 0.3, size=2)
        rotation0 = rng.uniform(0.0, math.pi)
        spin = rng.uniform(0.03, 0.12) * rng.choice([-1.0, 1.0])
        lobe_speed = rng.uniform(0.1, 0.3)
        return [
            _Blob(
                center_y=center0[0] + amplitude[0] * math.sin(frequency[0] * t + phase[0]),
                center_x=center0[1] + amplitude[1] * math.sin(frequency[1] * t + phase[1]),
                axis_a=axis_a0 * (1.0 + 0.15 * math.sin(axis_frequency[0] * t + phase[2])),
                axis_b=axis_a0 * look.aspect * (1.0 + 0.15 * math.sin(axis_frequency[1] * t + phase[3])),
                rotation=rotation0 + spin * t,
                lobes=look.lobes,
                lobe_amplitude=look.lobe_amplitude,
                lobe_phase=phase[4] + lobe_speed * t,
            )
            for t in range(self.num_frames)
        ]

    @staticmethod
    def _reach(blob: _Blob) -> float:
        return max(blob.axis_a, blob.axis_b) * (1.0 + blob.lobe_amplitude)

    def _place_distractor(self, rng, look: ObjectLook, occupied: list[_Blob]) -> _Blob:
        """A blob of `look` drawn from the primary object's position distribution.

        The first of up to 24 draws whose centre lies at least
        ``min_separation`` times the larger reach from every object already
        placed is kept (else the last draw). Keeping the *farthest* draw
        would push distractors to the frame's edges whenever the primary
        object sat near the centre, a one-frame cue that a
        `coattention=None` model learns
        (docs/research-log.md#2026-11-27--the-recurrence-benchmark-had-a-one-frame-cue).
        """
        height, width = self.image_size
        axis_a = self._size(rng)
        for _ in range(24):
            # The primary object's position distribution (see _primary_blobs): a
            # centre in [0.3, 0.7] plus a swing of up to 0.18, so position is no cue.
            swing = rng.uniform(0.06, 0.18, size=2) * np.sin(rng.uniform(0.0, 2.0 * math.pi, size=2))
            blob = _Blob(
                center_y=(rng.uniform(0.3, 0.7) + swing[0]) * height,
                center_x=(rng.uniform(0.3, 0.7) + swing[1]) * width,
                axis_a=axis_a,
                axis_b=axis_a * look.aspect,
                rotation=rng.uniform(0.0, math.pi),
                lobes=look.lobes,
                lobe_amplitude=look.lobe_amplitude,
                lobe_phase=rng.uniform(0.0, 2.0 * math.pi),
            )
            if all(
                math.hypot(blob.center_y - o.center_y, blob.center_x - o.center_x)
                >= self.min_separation * max(self._reach(blob), self._reach(o))
                for o in occupied
            ):
                break
        return blob

    # -- rendering ----------------------------------------------------------

    @staticmethod
    def _paint_look(image, blob: _Blob, look: ObjectLook, grid_y, grid_x):
        inside, u, v = blob.rasterize(grid_y, grid_x)
        image[inside] = look.colour * look.shade(u, v)[inside][:, None]
        return inside

    def render_sequence_with_looks(self, index: int):
        """Render video `index`; also return the looks: `(sequence, primary, distractors)`.

        `distractors[t]` lists the looks of the distractors of frame t, in the
        order of `sequence.distractor_masks[t]`.
        """
        if not 0 <= index < self.num_sequences:
            raise IndexError(f"sequence index {index} out of range [0, {self.num_sequences})")
        rng = self._rng(_VIDEO_STREAM, index)
        height, width = self.image_size
        count = self.num_frames
        low, high = self.distractors_per_frame

        background_hue = rng.uniform(0.0, 1.0)
        canvas, offsets = self._background(rng, background_hue, count - 1)
        primary_look = self._draw_look(rng, background_hue)
        primary = self._primary_blobs(rng, primary_look)
        noise_level = rng.uniform(2.0, 5.0)

        grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
        frames = np.empty((count, height, width, 3), np.uint8)
        masks = np.empty((count, height, width), bool)
        distractor_masks = np.zeros((count, high, height, width), bool)
        taken = [primary_look.mean_colour]
        distractor_looks = []
        for t in range(count):
            offset_y, offset_x = offsets[t]
            image = canvas[offset_y:offset_y + height, offset_x:offset_x + width].copy()
            occupied = [primary[t]]
            looks = []
            for _ in range(int(rng.integers(low, high + 1))):
                look = self._draw_distinct_look(rng, background_hue, taken)
                taken.append(look.mean_colour)
                occupied.append(self._place_distractor(rng, look, occupied))
                looks.append(look)
            # Objects are painted in a random depth order, so that "the object
            # in front" is no cue either; each mask is what stays visible.
            objects = list(zip(occupied, [primary_look] + looks))
            visible = np.zeros((len(objects), height, width), bool)
            for k in rng.permutation(len(objects)):
                inside = self._paint_look(image, *objects[k], grid_y, grid_x)
                visible &= ~inside
                visible[k] = inside
            masks[t] = visible[0]
            distractor_masks[t, :len(looks)] = visible[1:]
            image += rng.normal(0.0, noise_level, size=image.shape).astype(np.float32)
            frames[t] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
            distractor_looks.append(looks)
        sequence = SyntheticSequence(self.sequence_names[index], frames, masks, distractor_masks)
        return sequence, primary_look, distractor_looks

    def render_sequence(self, index: int) -> SyntheticSequence:
        """Render video ``index`` (0-based) in memory."""
        return self.render_sequence_with_looks(index)[0]
