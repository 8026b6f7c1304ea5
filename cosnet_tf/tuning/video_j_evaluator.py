"""Validation J of a model from real multi-reference segmentation of held-out videos."""
import time

import numpy as np

from cosnet_tf.evaluation import read_mask, region_similarity
from cosnet_tf.inference import VideoSegmenter
from cosnet_tf.tuning.evaluation_grid import OBJECTIVE, EvaluationGrid, setting_metric


class VideoJEvaluator:
    """Scores a model on held-out DAVIS-layout sequences at every setting of a grid.

    Each sequence is segmented as ``cosnet segment`` does it (``VideoSegmenter``:
    N reference frames per query, the grid's fusion and sampling, masks at the
    frames' resolution, threshold 0.5), then scored with the DAVIS-2016
    protocol: region similarity J of every frame but the first and the last,
    averaged per sequence, then over sequences. A video is encoded once per
    call and that encoding serves every setting (the test-time axes need no
    retraining and no re-encoding).

    Frames and masks are read once, at construction, and kept in memory: the
    held-out set of a search is small and is scored after every trial.

    Args:
        dataset: a ``DavisDataset`` (with masks) of the held-out sequences.
        grid: an :class:`EvaluationGrid`.
        input_size: (height, width) the model sees; None: the model's
            ``inference_size`` (the size it was trained at).
        batch_size: frames per backbone call.
        seed: seed of the ``"random"`` sampling.
        reference_pool: the segmenter's reference pooling (1: exact Eq. 6-7).

    Calling it with a model returns ``{metric: J}``: one ``J_N{n}_{fusion}_{sampling}``
    per setting, ``video_J`` (the default setting's J, the search objective)
    and ``eval_seconds``.

    Example:

    >>> import tempfile
    >>> from cosnet_tf import COSNet
    >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
    >>> from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator
    >>> root = SyntheticVideoGenerator(2, 5, (32, 32), num_val_sequences=1).write_davis(tempfile.mkdtemp())
    >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
    ...                                         aspp_filters=16, output_filters=16)
    >>> evaluator = VideoJEvaluator(DavisDataset(root, split="val"), EvaluationGrid(refs=[0, 2]))
    >>> scores = evaluator(COSNet(backbone, head_filters=16))
    >>> sorted(k for k in scores if k.startswith("J_"))[:2], 0.0 <= scores["video_J"] <= 1.0
    (['J_N0_attention_uniform', 'J_N2_attention_local'], True)
    """

    def __init__(self, dataset, grid=None, input_size=None, batch_size=4, seed=0, reference_pool=1):
        from cosnet_tf.data import load_rgb_image

        self.grid = grid or EvaluationGrid()
        self.input_size = input_size
        self.batch_size = batch_size
        self.seed = seed
        self.reference_pool = reference_pool
        self.sequences = []
        for sequence in dataset:
            if len(sequence) < 3:
                raise ValueError(
                    f"held-out sequence {sequence.name!r} has {len(sequence)} frames; the DAVIS-2016 "
                    "protocol scores all but the first and the last, so it needs at least 3"
                )
            if not sequence.has_all_masks:
                raise ValueError(f"held-out sequence {sequence.name!r} lacks masks: it cannot be scored")
            frames = np.stack([load_rgb_image(path) for path in sequence.frame_paths])
            masks = np.stack([read_mask(path, threshold=0) for path in sequence.mask_paths])
            if masks.shape[1:] != frames.shape[1:3]:
                raise ValueError(
                    f"held-out sequence {sequence.name!r}: masks are {masks.shape[2]}x{masks.shape[1]} "
                    f"but frames {frames.shape[2]}x{frames.shape[1]} (width x height), e.g. "
                    f"{sequence.mask_paths[0]}"
                )
            self.sequences.append((sequence.name, frames, masks))
        if not self.sequences:
            raise ValueError("no held-out sequences to score")

    @property
    def sequence_names(self):
        return [name for name, _, _ in self.sequences]

    def segmenter(self, model, refs=0, fusion="attention", sampling="uniform"):
        return VideoSegmenter(
            model, num_references=refs, sampling=sampling, fusion=fusion,
            input_size=self.input_size, batch_size=self.batch_size, seed=self.seed,
            reference_pool=self.reference_pool,
        )

    def per_sequence(self, model):
        """``{metric: {sequence: J mean}}`` for every setting of the grid."""
        settings = self.grid.settings()
        scores = {setting_metric(*s): {} for s in settings}
        encoder = self.segmenter(model)
        for name, frames, masks in self.sequences:
            encoded = encoder.encode_video(frames)
            for setting in settings:
                probabilities = self.segmenter(model, *setting).segment_encoded(encoded)
                scores[setting_metric(*setting)][name] = self.sequence_j(probabilities, masks)
        return scores

    @staticmethod
    def sequence_j(probabilities, masks, threshold=0.5):
        """Mean J of one sequence (DAVIS-2016: the first and the last frame are not scored)."""
        pairs = zip(probabilities[1:-1], masks[1:-1])
        return float(np.mean([region_similarity(p > threshold, m) for p, m in pairs]))

    def __call__(self, model):
        started = time.perf_counter()
        scores = {metric: float(np.mean(list(values.values())))
                  for metric, values in self.per_sequence(model).items()}
        scores[OBJECTIVE] = scores[setting_metric(*self.grid.default_setting)]
        scores["eval_seconds"] = time.perf_counter() - started
        return scores
