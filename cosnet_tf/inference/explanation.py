"""What the co-attention does for one frame: masks with and without references, gates, attention.

`explain_frame` segments one query frame of a video with N = 0 and with N
reference frames and returns the intermediate arrays a person needs to see
whether the references help: the gate's confidence (Eq. 8) for each
reference, and for a few query points the attention S^c of Eq. 6 over each
reference frame's positions. `render_explanation_sheet` draws them on one
PNG (`cosnet explain`).

Example:

>>> import numpy as np
>>> from cosnet_tf import COSNet
>>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
>>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
...                                         aspp_filters=16, output_filters=16)
>>> model = COSNet(backbone, head_filters=16)
>>> video = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
>>> result = explain_frame(model, video, frame_index=2, num_references=3)
>>> result.reference_indices, result.attention.shape       # [points, N, h', w']
([1, 3, 5], (3, 3, 4, 4))
>>> bool(np.allclose(result.attention.sum(axis=(2, 3)), 1.0, atol=1e-4))
True
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence

import numpy as np

from cosnet_tf.inference.inference_core import InferenceCore
from cosnet_tf.inference.open_frame_source import open_frame_source
from cosnet_tf.inference.reference_sampling import reference_plan
from cosnet_tf.utils.atomic import atomic_output_path


@dataclasses.dataclass(frozen=True)
class FrameExplanation:
    """The arrays behind one query frame's segmentation (all numpy).

    Attributes:
        frame_index: the query frame's index in the video.
        query_frame: uint8 [H, W, 3], the frame as read.
        reference_indices: the N reference frames' indices.
        reference_frames: uint8 [N, H, W, 3].
        probability_without: float [H, W], foreground probability at N = 0.
        probability_with: float [H, W], at N references (attention fusion, Eq. 13).
        gate_confidence: float [N, h, w], f_g(Z_n) of Eq. 8 per reference,
            at the feature resolution of the query.
        query_points: int [P, 2], (row, column) in frame pixels.
        attention: float [P, N, h', w']: for each query point, its softmax
            over each reference's positions (S^c of Eq. 6); every
            [p, n] map sums to 1, or to 1 - no_match[p, n] when the
            co-attention has a "no match" slot (`no_match=True`).
        no_match: float [P, N], the share of that slot (zeros without it).
        feature_size: (h, w) of the query's features.
    """

    frame_index: int
    query_frame: np.ndarray
    reference_indices: list
    reference_frames: np.ndarray
    probability_without: np.ndarray
    probability_with: np.ndarray
    gate_confidence: np.ndarray
    query_points: np.ndarray
    attention: np.ndarray
    no_match: np.ndarray
    feature_size: tuple


def default_query_points(probability_with, probability_without, count=3):
    """Query points worth looking at, (row, col) in frame pixels.

    The most confident foreground point with references; the most confident
    point that only the frame-by-frame result calls foreground (what the
    references removed), else the least confident foreground point of the
    N = 0 result; and the surest background point.
    """
    with_refs, without = np.asarray(probability_with), np.asarray(probability_without)
    points = [np.unravel_index(np.argmax(with_refs), with_refs.shape)]
    removed = np.where(with_refs < 0.5, without, -1.0)
    if removed.max() > 0.5:
        points.append(np.unravel_index(np.argmax(removed), removed.shape))
    else:
        points.append(np.unravel_index(np.argmax(without * (with_refs < 0.5)), without.shape))
    points.append(np.unravel_index(np.argmin(np.maximum(with_refs, without)), with_refs.shape))
    return np.asarray(points[:count], dtype=np.int64)


def explain_frame(
    model,
    video,
    frame_index: int,
    num_references: int = 5,
    sampling: str = "uniform",
    query_points: Optional[Sequence[Sequence[int]]] = None,
    input_size: Optional[Sequence[int]] = None,
    seed: int = 0,
) -> FrameExplanation:
    """Explains the segmentation of frame `frame_index` of `video`.

    Args:
        model: a `COSNet` with co-attention.
        video: anything `open_frame_source` reads (frame folder, video file,
            array [T, H, W, 3], list of image paths).
        frame_index: the query frame.
        num_references: N >= 1 reference frames, chosen as `cosnet segment`
            chooses them (`reference_plan`).
        sampling: "uniform", "random" or "local".
        query_points: (row, col) pixels of the query frame whose attention to
            show; default `default_query_points`.
        input_size: (height, width) the model sees; default what `cosnet segment`
            uses (`cosnet_tf.inference.input_size.resolve_input_size`).
        seed: seed of the "random" sampling.
    """
    if getattr(model, "coattention", None) is None:
        raise ValueError("explain_frame needs a model with co-attention; this one has coattention=None.")
    if num_references < 1:
        raise ValueError(f"num_references must be >= 1 to explain the co-attention, got {num_references}.")
    source = open_frame_source(video)
    count = len(source)
    if not 0 <= frame_index < count:
        raise ValueError(f"frame {frame_index} is out of range: {source.name!r} has {count} frames.")
    references = reference_plan(count, num_references, sampling, rng=seed)[frame_index]
    by_index = source.read_frames([frame_index] + references)
    frames = np.stack([by_index[i] for i in [frame_index] + references])
    height, width = frames.shape[1:3]
    # The masks `cosnet segment` writes for this frame, without and with these references.
    core = InferenceCore(model, input_size=input_size)
    features = core.encode(frames)
    query, refs = features[:1], features[1:]
    prob_without = core.segment(query, None, (height, width))
    prob_with = core.segment(query, core.stack_references(refs), (height, width))
    maps = model.reference_attention(query, refs[None])
    gates = [np.asarray(confidence)[0] for confidence, _ in maps]
    attention = [np.asarray(rows)[0] for _, rows in maps]  # [hw, h'w'] each
    h, w = int(query.shape[1]), int(query.shape[2])
    hr, wr = int(refs.shape[1]), int(refs.shape[2])
    if query_points is None:
        points = default_query_points(prob_with, prob_without)
    else:
        points = np.asarray(query_points, dtype=np.int64).reshape(-1, 2)
        bad = [tuple(p) for p in points if not (0 <= p[0] < height and 0 <= p[1] < width)]
        if bad:
            raise ValueError(f"query points {bad} lie outside the {height}x{width} frame.")
    # A frame pixel's feature position (features cover the frame evenly).
    rows = np.minimum((points[:, 0] + 0.5) * h / height, h - 1).astype(int)
    cols = np.minimum((points[:, 1] + 0.5) * w / width, w - 1).astype(int)
    maps = np.stack([[att[r * w + c].reshape(hr, wr) for att in attention] for r, c in zip(rows, cols)])
    return FrameExplanation(
        frame_index=int(frame_index),
        query_frame=frames[0],
        reference_indices=list(references),
        reference_frames=frames[1:],
        probability_without=prob_without,
        probability_with=prob_with,
        gate_confidence=np.stack(gates),
        query_points=points,
        attention=maps,
        no_match=np.clip(1.0 - maps.sum(axis=(2, 3)), 0.0, 1.0),
        feature_size=(h, w),
    )


_POINT_COLOURS = ("#ff3030", "#30c0ff", "#ffd000", "#40ff60", "#ff60ff", "#ffffff")


def render_explanation_sheet(explanation: FrameExplanation, path, title: Optional[str] = None):
    """Writes one PNG: masks with and without references, gate maps, attention heat maps.

    Row 1: the query frame with its query points; the N = 0 mask; the N
    reference mask; the gate's mean confidence. Row 2: the gate confidence of
    each reference. Then one row per query point: where that point attends in
    each reference frame (the heat map over the frame, its peak marked).
    The file is written atomically.
    """
    from cosnet_tf.utils.extras import require

    FigureCanvasAgg = require("matplotlib.backends.backend_agg", "plots", "the explanation sheet").FigureCanvasAgg
    from matplotlib.figure import Figure

    e = explanation
    n = len(e.reference_indices)
    points = len(e.query_points)
    columns = max(4, n)
    height, width = e.query_frame.shape[:2]
    figure = Figure(figsize=(2.6 * columns, 2.6 * height / width * (2 + points) + 0.8))
    axes = figure.subplots(2 + points, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")

    def overlay(probability):
        # The frame dimmed, the mask (probability > 0.5) tinted red.
        tint = e.query_frame.astype(np.float32) * 0.5
        tint[..., 0] += 127.0 * (probability > 0.5)
        return np.clip(tint, 0, 255).astype(np.uint8)

    ax = axes[0, 0]
    ax.imshow(e.query_frame)
    for p, (row, col) in enumerate(e.query_points):
        ax.scatter([col], [row], s=60, c=_POINT_COLOURS[p % 6], edgecolors="black", linewidths=1)
    ax.set_title(f"query frame {e.frame_index}", fontsize=9)
    axes[0, 1].imshow(overlay(e.probability_without))
    axes[0, 1].set_title("N = 0 (no references)", fontsize=9)
    axes[0, 2].imshow(overlay(e.probability_with))
    axes[0, 2].set_title(f"N = {n} (co-attention)", fontsize=9)
    # Drawn over the frame's extent, so the features of a resized input line up with the frame.
    frame_extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    image = axes[0, 3].imshow(e.gate_confidence.mean(axis=0), vmin=0, vmax=1, cmap="viridis",
                              extent=frame_extent)
    axes[0, 3].set_title(f"gate f_g, mean over refs ({e.gate_confidence.mean():.2f})", fontsize=9)
    figure.colorbar(image, ax=axes[0, 3], fraction=0.046)
    for r in range(n):
        axes[1, r].imshow(e.gate_confidence[r], vmin=0, vmax=1, cmap="viridis", extent=frame_extent)
        axes[1, r].set_title(f"gate vs ref {e.reference_indices[r]}", fontsize=9)
    for p in range(points):
        for r in range(n):
            ax = axes[2 + p, r]
            heat = e.attention[p, r]
            ax.imshow(e.reference_frames[r])
            ax.imshow(heat / max(float(heat.max()), 1e-12), cmap="inferno", alpha=0.6,
                      extent=frame_extent, interpolation="bilinear")
            peak = np.unravel_index(np.argmax(heat), heat.shape)
            ax.scatter([(peak[1] + 0.5) * width / heat.shape[1] - 0.5],
                       [(peak[0] + 0.5) * height / heat.shape[0] - 0.5],
                       s=40, marker="x", c=_POINT_COLOURS[p % 6])
            label = f"point {p + 1} -> ref {e.reference_indices[r]} (max {heat.max():.2f}"
            label += f", no match {e.no_match[p, r]:.2f})" if e.no_match[p, r] > 1e-3 else ")"
            ax.set_title(label, fontsize=8, color="black")
    figure.suptitle(title or f"co-attention of frame {e.frame_index}", fontsize=11)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_output_path(path) as tmp:
        FigureCanvasAgg(figure).print_png(tmp)
    return path
