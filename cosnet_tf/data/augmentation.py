"""Joint frame/mask augmentation with stateless (seed-determined) random ops.

Every random decision is drawn with ``tf.random.stateless_*`` from an explicit
``seed`` tensor of shape ``[2]``.  The pipelines derive that seed per element
from a seeded ``tf.data.Dataset.random`` stream, so the output depends only on
the pipeline seed and the element's position, never on thread scheduling of
the parallel ``map`` or on TensorFlow's global random state.

Geometry (random scale, crop position, horizontal flip) is expressed as one
crop box in normalised image coordinates and applied with a single
``tf.image.crop_and_resize`` call to the frame (bilinear) and to the mask
(nearest neighbour).  Frame and mask are therefore sampled at exactly the same
positions, which keeps them aligned, and only the output-sized crop is ever
interpolated, which is much cheaper than resizing the whole 854x480 frame
first.  Colour jitter and the optional degradation (blur and noise) touch the frame only.

Example:
    >>> import tensorflow as tf
    >>> from cosnet_tf.data import AugmentationConfig, augment_frame_and_mask
    >>> frame = tf.zeros([48, 64, 3], tf.uint8)
    >>> mask = tf.ones([48, 64, 1], tf.uint8)
    >>> out_frame, out_mask = augment_frame_and_mask(
    ...     frame, mask, image_size=(32, 32), config=AugmentationConfig(),
    ...     seed=tf.constant([1, 2], tf.int64))
    >>> out_frame.shape, out_frame.dtype.name, out_mask.shape, out_mask.dtype.name
    (TensorShape([32, 32, 3]), 'float32', TensorShape([32, 32, 1]), 'float32')
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    """Parameters of the training-time augmentation.

    Attributes:
        scale_range: ``(min, max)`` zoom factor, drawn uniformly.  1 shows the
            whole frame (or, with ``preserve_aspect_ratio``, the largest
            window of the output's aspect ratio); 1.25 shows a random window
            of 1/1.25 of that size; below 1 the frame is shrunk and placed at
            a random position on a ``pad_value`` canvas (mask padding is
            background).
        horizontal_flip: flip frame and mask left-right with probability 1/2.
        brightness_delta: maximum additive brightness change, as a fraction of
            the full range (0.1 means up to +-25.5 grey levels); 0 disables.
        contrast_range: ``(min, max)`` contrast factor, or ``None``.
        saturation_range: ``(min, max)`` saturation factor, or ``None``.
        hue_delta: maximum hue rotation as a fraction of the colour circle
            (at most 0.5; rotation of the YIQ chroma plane); 0 disables.
        preserve_aspect_ratio: when False the frame is stretched to the output
            shape (as COSNet does when it resizes DAVIS frames to a square
            input); when True the window has the output's aspect ratio.
        pad_value: grey level of the canvas outside the frame when zooming out.
        degrade_probability: probability that a frame is degraded, blurred (a Gaussian of
            sigma drawn from 0..``max_blur_sigma`` output pixels) and then given Gaussian
            noise (std drawn from 0..``max_noise_std`` grey levels), drawn for each frame on
            its own, never shared with the other frames of its pair or group: a degraded
            frame is harder to segment alone than with its clean references. The mask is
            unchanged. 0 (default) disables it.
        max_blur_sigma: largest blur, in output pixels.
        max_noise_std: largest noise std, in grey levels (0..255).
    """

    scale_range: tuple[float, float] = (0.8, 1.25)
    horizontal_flip: bool = True
    brightness_delta: float = 0.1
    contrast_range: Optional[tuple[float, float]] = (0.8, 1.2)
    saturation_range: Optional[tuple[float, float]] = (0.8, 1.2)
    hue_delta: float = 0.02
    preserve_aspect_ratio: bool = False
    pad_value: float = 0.0
    degrade_probability: float = 0.0
    max_blur_sigma: float = 3.0
    max_noise_std: float = 12.0

    def __post_init__(self) -> None:
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < min <= max, got {self.scale_range}")
        if self.brightness_delta < 0:
            raise ValueError(f"brightness_delta must be >= 0, got {self.brightness_delta}")
        for name in ("contrast_range", "saturation_range"):
            value = getattr(self, name)
            if value is not None and not 0 <= value[0] <= value[1]:
                raise ValueError(f"{name} must satisfy 0 <= min <= max, got {value}")
        if not 0 <= self.hue_delta <= 0.5:
            raise ValueError(f"hue_delta must be in [0, 0.5], got {self.hue_delta}")
        if not 0 <= self.degrade_probability <= 1:
            raise ValueError(f"degrade_probability must be in [0, 1], got {self.degrade_probability}")
        for name in ("max_blur_sigma", "max_noise_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def geometric_only(cls, scale_range: tuple[float, float] = (0.8, 1.25),
                       horizontal_flip: bool = True) -> "AugmentationConfig":
        """Scale, crop and flip without any colour change."""
        return cls(scale_range=scale_range, horizontal_flip=horizontal_flip,
                   brightness_delta=0.0, contrast_range=None, saturation_range=None,
                   hue_delta=0.0)

    @property
    def has_colour_jitter(self) -> bool:
        """Whether any colour operation is enabled."""
        return (self.brightness_delta > 0 or self.contrast_range is not None
                or self.saturation_range is not None or self.hue_delta > 0)


#: Default augmentation of the training pipelines.
DEFAULT_AUGMENTATION = AugmentationConfig()


def _crop_box(image_height: tf.Tensor, image_width: tf.Tensor, image_size: Sequence[int],
              config: AugmentationConfig, seed: tf.Tensor) -> tf.Tensor:
    """Random ``[y1, x1, y2, x2]`` box in normalised coordinates."""
    scale_seed, y_seed, x_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=4))
    out_height, out_width = float(image_size[0]), float(image_size[1])

    # Size of the window shown at zoom 1, as a fraction of the frame.
    if config.preserve_aspect_ratio:
        image_aspect = tf.cast(image_width, tf.float32) / tf.cast(image_height, tf.float32)
        target_aspect = out_width / out_height
        base_height = tf.minimum(1.0, image_aspect / target_aspect)
        base_width = tf.minimum(1.0, target_aspect / image_aspect)
    else:
        base_height = tf.constant(1.0)
        base_width = tf.constant(1.0)

    scale = tf.random.stateless_uniform(
        [], scale_seed, minval=config.scale_range[0], maxval=config.scale_range[1])
    box_height = base_height / scale
    box_width = base_width / scale

    def offset(box_extent: tf.Tensor, offset_seed: tf.Tensor) -> tf.Tensor:
        # Zooming in (extent < 1) the window slides inside the frame; zooming
        # out (extent > 1) the frame slides inside the window.
        low = tf.minimum(0.0, 1.0 - box_extent)
        high = tf.maximum(0.0, 1.0 - box_extent)
        return low + (high - low) * tf.random.stateless_uniform([], offset_seed)

    y1 = offset(box_height, y_seed)
    x1 = offset(box_width, x_seed)
    y2 = y1 + box_height
    x2 = x1 + box_width
    if config.horizontal_flip:
        # crop_and_resize samples a mirrored crop when x1 > x2.
        flip = tf.random.stateless_uniform([], flip_seed) < 0.5
        x1, x2 = tf.where(flip, x2, x1), tf.where(flip, x1, x2)
    return tf.stack([y1, x1, y2, x2])


# ITU-R BT.601 luma weights, used for saturation (blend with grey) and as the
# Y row of the YIQ transform used for hue rotation.
_LUMA = (0.299, 0.587, 0.114)
_RGB_TO_YIQ = ((0.299, 0.587, 0.114),
               (0.595716, -0.274453, -0.321263),
               (0.211456, -0.522591, 0.311135))


def _jitter_colour(frame: tf.Tensor, config: AugmentationConfig, seed: tf.Tensor) -> tf.Tensor:
    """Colour jitter of a float32 frame in 0..255, as one affine colour map.

    Brightness (add), contrast (scale about the per-channel mean), saturation
    (blend with the luma grey) and hue (rotation of the chroma plane in YIQ
    space) are all affine in RGB, so they are composed into a single 3x3
    matrix and offset and applied with one matrix product.  That is several
    times cheaper than ``tf.image``'s HSV round trips at training sizes and
    needs no intermediate clipping; the result is clipped to 0..255 once.
    """
    brightness_seed, contrast_seed, saturation_seed, hue_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=4))
    identity = tf.eye(3)
    # The map so far is  x -> matrix @ x + offset  (x an RGB column vector).
    matrix = identity
    offset = tf.zeros([3])
    if config.brightness_delta > 0:
        delta = tf.random.stateless_uniform(
            [], brightness_seed, -config.brightness_delta, config.brightness_delta)
        offset = offset + 255.0 * delta
    if config.contrast_range is not None:
        factor = tf.random.stateless_uniform([], contrast_seed, *config.contrast_range)
        # Means are affine too: mean(M x + t) = M mean(x) + t.
        channel_mean = tf.reduce_mean(frame, axis=[0, 1])
        current_mean = tf.linalg.matvec(matrix, channel_mean) + offset
        matrix = factor * matrix
        offset = factor * offset + (1.0 - factor) * current_mean
    if config.saturation_range is not None:
        factor = tf.random.stateless_uniform([], saturation_seed, *config.saturation_range)
        to_grey = tf.tile(tf.constant(_LUMA)[tf.newaxis], [3, 1])  # every row: luma weights
        blend = factor * identity + (1.0 - factor) * to_grey
        matrix = blend @ matrix
        offset = tf.linalg.matvec(blend, offset)
    if config.hue_delta > 0:
        angle = 2.0 * math.pi * tf.random.stateless_uniform(
            [], hue_seed, -config.hue_delta, config.hue_delta)
        cos, sin = tf.cos(angle), tf.sin(angle)
        zero, one = tf.zeros([]), tf.ones([])
        rotation = tf.stack([tf.stack([one, zero, zero]),
                             tf.stack([zero, cos, -sin]),
                             tf.stack([zero, sin, cos])])
        rgb_to_yiq = tf.constant(_RGB_TO_YIQ)
        hue_map = tf.linalg.inv(rgb_to_yiq) @ rotation @ rgb_to_yiq
        matrix = hue_map @ matrix
        offset = tf.linalg.matvec(hue_map, offset)
    # Pixels are row vectors, hence the transpose.
    jittered = tf.tensordot(frame, tf.transpose(matrix), axes=1) + offset
    return tf.clip_by_value(jittered, 0.0, 255.0)


def _gaussian_blur(frame: tf.Tensor, sigma: tf.Tensor, radius: int) -> tf.Tensor:
    """Separable Gaussian blur of a float32 [H, W, 3] frame; edges padded by reflection."""
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / tf.maximum(sigma, 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    padded = tf.pad(frame[tf.newaxis], [[0, 0], [radius, radius], [radius, radius], [0, 0]], "REFLECT")
    rows = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, 3, 1])
    columns = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, 3, 1])
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, columns, [1, 1, 1, 1], "VALID")[0]


def _degrade(frame: tf.Tensor, config: AugmentationConfig, seed: tf.Tensor) -> tf.Tensor:
    """With probability ``config.degrade_probability``: blur, then noise (see `AugmentationConfig`)."""
    apply_seed, sigma_seed, std_seed, noise_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, num=4))
    sigma = tf.random.stateless_uniform([], sigma_seed, 0.0, config.max_blur_sigma)
    std = tf.random.stateless_uniform([], std_seed, 0.0, config.max_noise_std)

    def degraded():
        # The kernel reaches 3 sigma; the frame's own size bounds the reflection padding.
        radius = min(int(math.ceil(3 * config.max_blur_sigma)), min(frame.shape[0], frame.shape[1]) - 1)
        out = _gaussian_blur(frame, sigma, radius) if radius > 0 else frame
        out = out + std * tf.random.stateless_normal(tf.shape(out), noise_seed)
        return tf.clip_by_value(out, 0.0, 255.0)

    apply = tf.random.stateless_uniform([], apply_seed) < config.degrade_probability
    return tf.cond(apply, degraded, lambda: frame)


def augment_frame_and_mask(
    frame: tf.Tensor,
    mask: tf.Tensor,
    image_size: Sequence[int],
    config: AugmentationConfig,
    seed: tf.Tensor,
    colour_seed: Optional[tf.Tensor] = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Apply the same random geometry to a frame and its mask.

    Args:
        frame: ``[h, w, 3]`` RGB, any real or integer dtype, values 0..255.
        mask: ``[h, w, 1]`` with values 0/1.
        image_size: output ``(height, width)``.
        config: augmentation parameters.
        seed: ``int32``/``int64`` tensor of shape ``[2]``; equal seeds give
            equal results.
        colour_seed: seed of the colour jitter alone, when it must be shared
            with another frame (the frames of a training pair); default:
            derived from ``seed``.

    Returns:
        ``(frame, mask)``: ``float32 [H, W, 3]`` in 0..255 and
        ``float32 [H, W, 1]`` in {0, 1}.
    """
    seed = tf.convert_to_tensor(seed)
    geometry_seed, own_colour_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    if colour_seed is None:
        colour_seed = own_colour_seed
    shape = tf.shape(frame)
    box = _crop_box(shape[0], shape[1], image_size, config, geometry_seed)
    boxes = box[tf.newaxis]
    box_indices = tf.zeros([1], tf.int32)
    crop_size = [int(image_size[0]), int(image_size[1])]

    out_frame = tf.image.crop_and_resize(
        tf.cast(frame, tf.float32)[tf.newaxis], boxes, box_indices, crop_size,
        method="bilinear", extrapolation_value=config.pad_value)[0]
    out_mask = tf.image.crop_and_resize(
        tf.cast(mask, tf.float32)[tf.newaxis], boxes, box_indices, crop_size,
        method="nearest", extrapolation_value=0.0)[0]

    if config.has_colour_jitter:
        out_frame = _jitter_colour(out_frame, config, colour_seed)
    else:
        out_frame = tf.clip_by_value(out_frame, 0.0, 255.0)
    if config.degrade_probability > 0:
        # Folded from the frame's own seed (not the shared colour seed): each frame of a group
        # is degraded or not on its own; the other random streams stay as they were.
        out_frame = _degrade(out_frame, config, tf.random.experimental.stateless_fold_in(seed, 1))
    out_frame = tf.ensure_shape(out_frame, crop_size + [3])
    out_mask = tf.ensure_shape(out_mask, crop_size + [1])
    return out_frame, out_mask


def resize_frame_and_mask(
    frame: tf.Tensor,
    mask: Optional[tf.Tensor],
    image_size: Optional[Sequence[int]],
) -> tuple[tf.Tensor, Optional[tf.Tensor]]:
    """Deterministic resize: bilinear for the frame, nearest for the mask.

    Args:
        frame: ``[h, w, 3]`` RGB, values 0..255.
        mask: ``[h, w, 1]`` 0/1, or ``None``.
        image_size: output ``(height, width)``, or ``None`` to keep the size.

    Returns:
        ``(frame, mask)`` as ``float32`` (``mask`` stays ``None`` if ``None``).

    Example:
        >>> import tensorflow as tf
        >>> frame, mask = resize_frame_and_mask(
        ...     tf.zeros([48, 64, 3], tf.uint8), tf.ones([48, 64, 1], tf.uint8), (24, 32))
        >>> frame.shape, mask.shape
        (TensorShape([24, 32, 3]), TensorShape([24, 32, 1]))
    """
    frame = tf.cast(frame, tf.float32)
    if mask is not None:
        mask = tf.cast(mask, tf.float32)
    if image_size is None:
        return frame, mask
    size = [int(image_size[0]), int(image_size[1])]
    # Plain bilinear without anti-aliasing, as OpenCV's INTER_LINEAR used by
    # the reference COSNet code.
    frame = tf.image.resize(frame, size, method="bilinear")
    if mask is not None:
        mask = tf.image.resize(mask, size, method="nearest")
    return frame, mask
