"""Held-out J of a model from real multi-reference segmentation, at every test-time setting.

`EvaluationGrid` lists the test-time settings (N, fusion, sampling: the paper's
Tables 1 and 2); `VideoJEvaluator` segments held-out videos as `cosnet segment`
does and scores each setting with the DAVIS-2016 protocol. `cosnet train`
(`video_eval_refs`) and `cosnet tune` (every trial) score models with them.
"""
import dataclasses
import numbers
import time

import numpy as np

from cosnet_tf.data.decoding import load_rgb_image
from cosnet_tf.evaluation.mask_io import read_mask
from cosnet_tf.evaluation.region_similarity import region_similarity
from cosnet_tf.inference.reference_sampling import SAMPLING_STRATEGIES
from cosnet_tf.inference.video_segmenter import FUSIONS, VideoSegmenter

# The objective of every search: J of the default setting, from real video segmentation.
OBJECTIVE = "video_J"

LAYOUTS = ("one-at-a-time", "full")


def setting_metric(refs, fusion, sampling):
    """The metric name of one test-time setting, e.g. ``J_N5_attention_uniform``."""
    return f"J_N{refs}_{fusion}_{sampling}"


@dataclasses.dataclass
class EvaluationGrid:
    """The test-time axes of the ablation: evaluated on one trained model, no retraining.

    The paper's Table 1 changes one thing at a time from its full model
    (N = 5, attention-summary fusion, global uniform sampling) and Table 2
    varies N alone; ``layout="one-at-a-time"`` scores exactly those settings.
    ``"full"`` scores the whole product (N = 0 once: with no reference,
    fusion and sampling do not apply).

    Args:
        refs: the values of N (Table 2).
        fusions: any of ``"attention"`` (Eq. 13), ``"prediction"`` and ``"joint"``; by
            default the paper's two (Table 2).
        samplings: any of ``"uniform"``, ``"random"``, ``"local"`` (Table 1).
        default: ``{"refs", "fusion", "sampling"}``: the setting whose J is the
            search objective (``video_J``) and from which one-at-a-time varies.
        layout: ``"one-at-a-time"`` or ``"full"``.

    Example:

    >>> grid = EvaluationGrid(refs=[0, 1, 5], fusions=["attention", "prediction"],
    ...                       samplings=["uniform"])
    >>> [setting_metric(*s) for s in grid.settings()]
    ['J_N5_attention_uniform', 'J_N0_attention_uniform', 'J_N1_attention_uniform', 'J_N5_prediction_uniform']
    """

    refs: list = dataclasses.field(default_factory=lambda: [0, 1, 2, 5, 7])
    fusions: list = dataclasses.field(default_factory=lambda: ["attention", "prediction"])
    samplings: list = dataclasses.field(default_factory=lambda: list(SAMPLING_STRATEGIES))
    default: dict = dataclasses.field(default_factory=dict)
    layout: str = "one-at-a-time"

    def __post_init__(self):
        self.refs = [self._check_refs(n) for n in self.refs]
        self.fusions = list(self.fusions)
        self.samplings = list(self.samplings)
        for name, values, allowed in (("fusions", self.fusions, FUSIONS),
                                      ("samplings", self.samplings, SAMPLING_STRATEGIES)):
            unknown = [v for v in values if v not in allowed]
            if unknown or not values:
                raise ValueError(f"evaluation.{name}: {values!r} must be a non-empty list of {allowed}")
        if not self.refs:
            raise ValueError("evaluation.refs must list at least one N")
        unknown = set(self.default) - {"refs", "fusion", "sampling"}
        if unknown:
            raise ValueError(f"evaluation.default: unknown key(s) {sorted(unknown)}; "
                             "expected refs, fusion, sampling")
        positive = [n for n in self.refs if n > 0]
        self.default = {
            "refs": self._check_refs(self.default.get("refs", 5 if 5 in self.refs else max(self.refs))),
            "fusion": self.default.get("fusion", self.fusions[0]),
            "sampling": self.default.get("sampling", self.samplings[0]),
        }
        if self.default["fusion"] not in FUSIONS or self.default["sampling"] not in SAMPLING_STRATEGIES:
            raise ValueError(f"evaluation.default: {self.default} names an unknown fusion or sampling")
        if self.layout not in LAYOUTS:
            raise ValueError(f"evaluation.layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not positive and (len(self.fusions) > 1 or len(self.samplings) > 1):
            raise ValueError("evaluation: fusions and samplings need some N > 0 in refs")

    @staticmethod
    def _check_refs(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"evaluation.refs: N must be an integer >= 0, got {value!r}")
        return int(value)

    @property
    def default_setting(self):
        return self.default["refs"], self.default["fusion"], self.default["sampling"]

    def settings(self):
        """The (N, fusion, sampling) settings to score, the default first, no repeats."""
        refs, fusion, sampling = self.default_setting
        if self.layout == "full":
            candidates = [(n, f, s) for n in self.refs for f in self.fusions for s in self.samplings]
        else:
            candidates = [(n, fusion, sampling) for n in self.refs]
            candidates += [(refs, f, sampling) for f in self.fusions]
            candidates += [(refs, fusion, s) for s in self.samplings]
        seen, ordered = set(), []
        for setting in [self.default_setting] + candidates:
            key = self.canonical(setting)
            if key not in seen:
                seen.add(key)
                ordered.append(key)
        return ordered

    def canonical(self, setting):
        """N = 0 ignores fusion and sampling: one setting stands for all of them."""
        refs, fusion, sampling = setting
        if refs == 0:
            return 0, self.default["fusion"], self.default["sampling"]
        return int(refs), fusion, sampling

    def metric(self, refs, fusion=None, sampling=None) -> str:
        """The metric name holding J of a setting (defaults fill what is not given)."""
        setting = self.canonical((refs, fusion or self.default["fusion"], sampling or self.default["sampling"]))
        return setting_metric(*setting)


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
