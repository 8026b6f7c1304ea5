"""The shipped model: where `cosnet segment` and `cosnet_tf.load_model()` find it.

It is a file of the repository (`saved_models/`, with its model card beside it), not of the
Python package: a checkout or an editable install finds it from any working directory.
"""
import os

#: The default model, relative to the repository root (or the working directory): the better
#: on unseen video of the two models trained with the same two-stage recipe on DAVIS-2016 (its
#: card compares them). It has co-attention (vanilla, centred-cosine affinity, the recurrence
#: gate), block 12 beside the ASPP output and a stride-4 decoder, and it is also what
#: `cosnet explain` shows (saved_models/cosnet_mobilenetv2_davis.md).
SHIPPED_MODEL = os.path.join("saved_models", "cosnet_mobilenetv2_davis.keras")
#: The config that trains it (stage 3), after `mobilenetv2_davis_stage1.toml` and `mobilenetv2_davis.toml`:
#: `cosnet train --config TRAINING_CONFIG`.
TRAINING_CONFIG = os.path.join("training", "configs", "mobilenetv2_davis_stage3.toml")
#: The shipped co-attention model (the default).
COATTENTION_MODEL = SHIPPED_MODEL
#: Its `coattention=None` twin: the same recipe and budget, frame by frame.
NO_COATTENTION_MODEL = os.path.join("saved_models", "cosnet_mobilenetv2_davis_none.keras")
#: The config that trains the twin, after `mobilenetv2_davis_none_stage1.toml`.
NO_COATTENTION_TRAINING_CONFIG = os.path.join("training", "configs", "mobilenetv2_davis_none.toml")
#: The shipped files: found from any working directory.
SHIPPED_FILES = (SHIPPED_MODEL, NO_COATTENTION_MODEL)


def _repository_root():
    here = os.path.dirname(os.path.abspath(__file__))  # cosnet_tf/models
    return os.path.dirname(os.path.dirname(here))


def shipped_model_path(relative_path=None):
    """The shipped model's file: under the working directory first, then the repository root.

    Raises:
        FileNotFoundError: naming both places and how to train or pass a model.
    """
    relative_path = relative_path or SHIPPED_MODEL
    candidates = [relative_path, os.path.join(_repository_root(), relative_path)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"the default model {relative_path} does not exist (looked in {os.getcwd()} and "
        f"{_repository_root()}; it is in a checkout of the repository, and `cosnet train --config "
        f"{TRAINING_CONFIG}` writes it); pass a .keras path instead"
    )


def load_model(path=None):
    """The shipped model (default; `SHIPPED_MODEL`), or the saved `.keras` model at `path`.

    `load_model(NO_COATTENTION_MODEL)` loads the shipped `coattention=None` twin.

    Example:
        >>> import cosnet_tf
        >>> model = cosnet_tf.load_model()  # doctest: +SKIP
    """
    from cosnet_tf.models.cosnet import COSNet

    if path is None or path in SHIPPED_FILES:
        path = shipped_model_path(path)
    return COSNet.from_preset(path)
