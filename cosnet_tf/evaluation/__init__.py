"""Video object segmentation metrics and benchmark protocols (NumPy/Pillow; SciPy for ``error_regions``).

Metrics of one frame (ports of the DAVIS-2016 benchmark):

* :func:`region_similarity` (J, IoU), :func:`boundary_f_measure` (F),
  :func:`temporal_stability` (T, between two consecutive masks).

Statistics of a sequence: :func:`mean_score`, :func:`recall_score`,
:func:`decay_score`.

What a mask's errors are: :func:`error_regions` (strays, misses, outline; SciPy, the
``[analysis]`` extra).

How two settings differ: :func:`paired_difference` (per sequence, and the mean's bootstrap
interval over sequences; SciPy, the ``[analysis]`` extra).

Protocols: :func:`evaluate` (``"davis2016"``, ``"fbms"``,
``"youtube-objects"``) returns an :class:`EvaluationResult` with
``to_json``, ``to_csv``, ``format_table`` and ``plot_per_sequence``.

    from cosnet_tf.evaluation import evaluate
    result = evaluate("runs/preds", "data/DAVIS", "davis2016")
    print(result.format_table())
    result.to_json("runs/davis.json")
"""
from cosnet_tf.evaluation.boundary_measure import (
    boundary_f_measure,
    boundary_precision_recall,
    dilate_disk,
    seg2bmap,
)
from cosnet_tf.evaluation.davis2016 import evaluate_davis2016
from cosnet_tf.evaluation.db_info import read_db_info, t_exclusions
from cosnet_tf.evaluation.error_regions import ErrorRegions, error_regions
from cosnet_tf.evaluation.evaluation_result import EvaluationResult
from cosnet_tf.evaluation.fbms import evaluate_fbms
from cosnet_tf.evaluation.mask_io import list_mask_frames, read_mask
from cosnet_tf.evaluation.paired_difference import PairedDifference, paired_difference
from cosnet_tf.evaluation.protocols import PROTOCOLS, evaluate
from cosnet_tf.evaluation.region_similarity import region_similarity
from cosnet_tf.evaluation.result_row import ResultRow
from cosnet_tf.evaluation.sequence_statistics import (
    decay_score,
    mean_score,
    recall_score,
)
from cosnet_tf.evaluation.temporal_stability import (
    TEMPORAL_STABILITY_SCALE,
    longest_contour,
    mask_contours,
    temporal_stability,
)
from cosnet_tf.evaluation.youtube_objects import evaluate_youtube_objects

__all__ = [
    "ErrorRegions",
    "EvaluationResult",
    "PROTOCOLS",
    "PairedDifference",
    "ResultRow",
    "TEMPORAL_STABILITY_SCALE",
    "boundary_f_measure",
    "boundary_precision_recall",
    "decay_score",
    "dilate_disk",
    "error_regions",
    "evaluate",
    "read_db_info",
    "t_exclusions",
    "evaluate_davis2016",
    "evaluate_fbms",
    "evaluate_youtube_objects",
    "list_mask_frames",
    "longest_contour",
    "mask_contours",
    "mean_score",
    "paired_difference",
    "read_mask",
    "recall_score",
    "region_similarity",
    "seg2bmap",
    "temporal_stability",
]
