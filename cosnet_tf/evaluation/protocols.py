"""One entry point for every evaluation protocol."""
from __future__ import annotations

from cosnet_tf.evaluation.davis2016 import evaluate_davis2016
from cosnet_tf.evaluation.evaluation_result import EvaluationResult
from cosnet_tf.evaluation.fbms import evaluate_fbms
from cosnet_tf.evaluation.youtube_objects import evaluate_youtube_objects
from cosnet_tf.utils.choices import PROTOCOLS

_PROTOCOL_FUNCTIONS = dict(zip(PROTOCOLS, (evaluate_davis2016, evaluate_fbms, evaluate_youtube_objects)))

_ALIASES = {
    "davis": "davis2016",
    "davis-2016": "davis2016",
    "davis16": "davis2016",
    "fbms59": "fbms",
    "youtube-objects": "youtube-objects",
    "youtubeobjects": "youtube-objects",
    "youtube": "youtube-objects",
    "yto": "youtube-objects",
}


def canonical_protocol(protocol: str) -> str:
    """Normalise a protocol name (case, ``_`` vs ``-``, common aliases).

    >>> canonical_protocol("DAVIS"), canonical_protocol("youtube_objects")
    ('davis2016', 'youtube-objects')
    """
    key = str(protocol).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in _PROTOCOL_FUNCTIONS:
        raise ValueError(f"unknown evaluation protocol {protocol!r}; expected one of {PROTOCOLS}")
    return key


def evaluate(pred_dir, gt_root, protocol: str, sequences=None, **options) -> EvaluationResult:
    """Score a folder of predicted masks against ground truth with a benchmark protocol.

    Args:
        pred_dir: predictions, ``<pred_dir>/<sequence>/<frame>.png`` (for
            YouTube-Objects ``<pred_dir>/<category>/<sequence>/<frame>.png``).
        gt_root: ground truth; DAVIS root (``Annotations/480p/<sequence>``),
            or for FBMS ``<gt_root>/<sequence>/<frame>.png`` and for
            YouTube-Objects ``<gt_root>/<category>/<sequence>/<frame>.png``.
        protocol: ``"davis2016"``, ``"fbms"`` or ``"youtube-objects"``.
        sequences: ``None`` for every sequence of the ground truth, a list of
            names, or a text file listing them.
        **options: protocol options: ``measures``, ``workers``, ``bound_th``
            (all); ``t_exclude`` (davis2016); ``average`` (fbms,
            youtube-objects). See :func:`evaluate_davis2016`,
            :func:`evaluate_fbms`, :func:`evaluate_youtube_objects`.

    Returns:
        An :class:`EvaluationResult`: ``.sequences`` rows, ``.categories``
        (YouTube-Objects), ``.overall``; ``to_json``, ``to_csv``,
        ``format_table``, ``plot_per_sequence``.

    Raises:
        FileNotFoundError: a ground-truth folder or a scored frame's
            prediction is missing (the message names the path).
        ValueError: a PNG cannot be read or a prediction's size differs from
            its ground truth (the message names the file), unknown protocol.

    Example:

    >>> import tempfile, pathlib, numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> gt = np.zeros((30, 30), np.uint8); gt[5:25, 5:25] = 255
    >>> pred = np.zeros((30, 30), np.uint8); pred[5:25, 5:15] = 255  # half the object
    >>> for i in range(4):
    ...     for folder, mask in [(root / "Annotations/480p/sq", gt), (root / "pred/sq", pred)]:
    ...         folder.mkdir(parents=True, exist_ok=True)
    ...         Image.fromarray(mask).save(folder / f"{i:05d}.png")
    >>> result = evaluate(root / "pred", root, "davis2016", measures=["J"])
    >>> result.overall["J_mean"], result.overall["J_recall"]
    (0.5, 0.0)
    """
    return _PROTOCOL_FUNCTIONS[canonical_protocol(protocol)](pred_dir, gt_root, sequences, **options)
