"""Dense CRF refinement of foreground probability maps (Krähenbühl & Koltun, NIPS 2011).

COSNet refines its segmentation with a fully connected CRF over two labels
(background, foreground). The unary term is ``-log p`` of each label, the
pairwise terms are a Gaussian (smoothness) kernel on pixel positions and a
bilateral (appearance) kernel on positions and RGB colours. The defaults are
the COSNet settings: Gaussian ``sxy=1, compat=5``; bilateral ``sxy=10,
srgb=7, compat=8``; 5 mean-field iterations.

Needs the ``pydensecrf`` module, provided by the ``pydensecrf2`` package
(``pip install pydensecrf2``); it is imported only when a CRF runs.

    from cosnet_tf.postprocessing import DenseCRF, dense_crf, crf_map
    refined = dense_crf(frame_rgb_uint8, foreground_probability)
    refined_all = crf_map(frames, probabilities, workers=4)
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import numbers
import os
from typing import Mapping, Sequence

import numpy as np

# Probabilities are clipped away from 0 and 1 so that -log p stays finite.
_PROBABILITY_EPS = 1e-8


def _import_densecrf():
    from cosnet_tf.utils.extras import require

    return require("pydensecrf.densecrf", "crf", "dense CRF post-processing (--crf)")


def _check_inputs(image_rgb_uint8, fg_prob) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image_rgb_uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image_rgb_uint8 must have shape (height, width, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image_rgb_uint8 must be uint8 (0..255 RGB), got dtype {image.dtype}")
    probability = np.asarray(fg_prob)
    if probability.ndim == 3 and probability.shape[-1] == 1:
        probability = probability[..., 0]
    if probability.ndim != 2:
        raise ValueError(f"fg_prob must have shape (height, width), got {probability.shape}")
    if probability.shape != image.shape[:2]:
        raise ValueError(
            f"fg_prob shape {probability.shape} does not match the image size {image.shape[:2]}"
        )
    if not np.issubdtype(probability.dtype, np.floating):
        raise ValueError(f"fg_prob must be a floating-point probability map, got dtype {probability.dtype}")
    if not np.all(np.isfinite(probability)):
        raise ValueError("fg_prob contains NaN or infinite values")
    low, high = float(probability.min()), float(probability.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"fg_prob must lie in [0, 1], got values in [{low}, {high}]")
    return image, probability


def _check_positive(name: str, value, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if integer and int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def dense_crf(
    image_rgb_uint8,
    fg_prob,
    *,
    gaussian_sxy: float = 1,
    gaussian_compat: float = 5,
    bilateral_sxy: float = 10,
    bilateral_srgb: float = 7,
    bilateral_compat: float = 8,
    iterations: int = 5,
) -> np.ndarray:
    """Refine a foreground probability map with a two-label dense CRF.

    Args:
        image_rgb_uint8: ``(height, width, 3)`` uint8 RGB frame.
        fg_prob: ``(height, width)`` float foreground probability in ``[0, 1]``
            (a trailing channel axis of size 1 is accepted).
        gaussian_sxy: spatial standard deviation of the smoothness kernel (pixels).
        gaussian_compat: weight of the smoothness kernel (Potts compatibility).
        bilateral_sxy: spatial standard deviation of the appearance kernel (pixels).
        bilateral_srgb: colour standard deviation of the appearance kernel.
        bilateral_compat: weight of the appearance kernel.
        iterations: mean-field inference steps.

    Returns:
        ``(height, width)`` float32 refined foreground probability (the CRF
        marginal of the foreground label); threshold at 0.5 for a mask.

    Raises:
        ValueError: wrong shapes, dtypes or probability range.
        ImportError: ``pydensecrf`` is not installed.

    Example:

    >>> import numpy as np
    >>> image = np.zeros((32, 32, 3), np.uint8); image[8:24, 8:24] = 255
    >>> prob = np.full((32, 32), 0.3, np.float32); prob[8:24, 8:24] = 0.7
    >>> refined = dense_crf(image, prob)
    >>> refined.dtype, refined.shape, bool(refined[16, 16] > 0.9), bool(refined[2, 2] < 0.1)
    (dtype('float32'), (32, 32), True, True)
    """
    image, probability = _check_inputs(image_rgb_uint8, fg_prob)
    for name, value in [
        ("gaussian_sxy", gaussian_sxy),
        ("gaussian_compat", gaussian_compat),
        ("bilateral_sxy", bilateral_sxy),
        ("bilateral_srgb", bilateral_srgb),
        ("bilateral_compat", bilateral_compat),
    ]:
        _check_positive(name, value)
    _check_positive("iterations", iterations, integer=True)
    densecrf = _import_densecrf()

    height, width = probability.shape
    # float64: in float32, 1 - 1e-8 rounds back to 1 and log(1 - p) to -inf.
    foreground = np.clip(probability.astype(np.float64), _PROBABILITY_EPS, 1.0 - _PROBABILITY_EPS)
    # Label 0 = background, label 1 = foreground; the unary is the negative log-probability.
    unary = -np.log(np.stack([1.0 - foreground, foreground]).reshape(2, -1))
    crf = densecrf.DenseCRF2D(width, height, 2)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    crf.addPairwiseGaussian(sxy=float(gaussian_sxy), compat=float(gaussian_compat))
    crf.addPairwiseBilateral(
        sxy=float(bilateral_sxy),
        srgb=float(bilateral_srgb),
        # pydensecrf needs a writable buffer: a frame from PIL or a cache may be read-only.
        rgbim=np.array(image, dtype=np.uint8, order="C", copy=True),
        compat=float(bilateral_compat),
    )
    marginals = np.asarray(crf.inference(int(iterations)), dtype=np.float32).reshape(2, height, width)
    return marginals[1].copy()


@dataclasses.dataclass(frozen=True)
class DenseCRF:
    """Settings of the dense CRF, callable on one frame (defaults: the COSNet paper).

    The CLI and configuration files pass these around with
    :meth:`get_config` / :meth:`from_config`.

    Example:

    >>> crf = DenseCRF(iterations=10)
    >>> crf.get_config()["iterations"]
    10
    >>> DenseCRF.from_config(crf.get_config()) == crf
    True
    """

    gaussian_sxy: float = 1
    gaussian_compat: float = 5
    bilateral_sxy: float = 10
    bilateral_srgb: float = 7
    bilateral_compat: float = 8
    iterations: int = 5

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check_positive(field.name, getattr(self, field.name), integer=field.name == "iterations")

    def get_config(self) -> dict:
        """The settings as a plain dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: Mapping) -> "DenseCRF":
        """Build from :meth:`get_config` output; unknown keys are an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ValueError(f"unknown DenseCRF setting(s) {unknown}; expected some of {sorted(names)}")
        return cls(**config)

    def __call__(self, image_rgb_uint8, fg_prob) -> np.ndarray:
        """Refine one frame: :func:`dense_crf` with these settings."""
        return dense_crf(image_rgb_uint8, fg_prob, **self.get_config())


def _refine_one(job) -> np.ndarray:
    image, probability, crf = job
    return crf(image, probability)


def crf_map(
    images: Sequence,
    probs: Sequence,
    workers: int | None = None,
    *,
    crf: DenseCRF | None = None,
    mp_context: str | None = None,
) -> list[np.ndarray]:
    """Refine many frames, spread over processes (the CRF is single-threaded).

    Args:
        images: ``(height, width, 3)`` uint8 RGB frames.
        probs: matching ``(height, width)`` foreground probability maps.
        workers: number of processes; ``None`` uses every CPU, 1 runs in this
            process.
        crf: settings (default: :class:`DenseCRF` with the COSNet values).
        mp_context: multiprocessing start method (``"fork"``, ``"spawn"``,
            ``"forkserver"``); default the platform's. With ``"spawn"`` the
            workers import ``cosnet_tf`` (and so TensorFlow) on start-up.

    Returns:
        The refined float32 probability maps, in input order. The result is
        the same whatever the number of workers.

    Example:

    >>> import numpy as np
    >>> image = np.zeros((16, 16, 3), np.uint8); image[4:12, 4:12] = 255
    >>> prob = np.where(image[..., 0] > 0, 0.8, 0.2).astype(np.float32)
    >>> out = crf_map([image, image], [prob, prob], workers=1)
    >>> len(out), out[0].shape
    (2, (16, 16))
    """
    crf = DenseCRF() if crf is None else crf
    if not isinstance(crf, DenseCRF):
        raise TypeError(f"crf must be a DenseCRF, got {type(crf).__name__}")
    images = list(images)
    probs = list(probs)
    if len(images) != len(probs):
        raise ValueError(f"got {len(images)} images but {len(probs)} probability maps")
    # Validate everything up front, so a bad frame fails here with its index, not in a worker.
    for index, (image, probability) in enumerate(zip(images, probs)):
        try:
            _check_inputs(image, probability)
        except ValueError as error:
            raise ValueError(f"frame {index}: {error}") from None
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    workers = min(int(workers), len(images))
    jobs = [(image, probability, crf) for image, probability in zip(images, probs)]
    if workers <= 1:
        return [_refine_one(job) for job in jobs]
    context = multiprocessing.get_context(mp_context) if mp_context else None
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_refine_one, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
