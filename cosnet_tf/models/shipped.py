"""The shipped models: where `cosnet segment`, `cosnet_tf.load_model()` and the trained presets find them.

They are package data: a wheel installs the repository's `saved_models/` (the `.keras` files and
their model card) as `cosnet_tf/saved_models/`. An installed package finds them there; a
checkout (or an editable install) in its `saved_models/` folder, from any working directory.
"""
import os

#: The default model, relative to the repository root: the better on unseen video of the two
#: models trained with the same recipe on DAVIS-2016 (its card compares them). It has
#: co-attention (vanilla, centred-cosine affinity, the recurrence gate), block 12 beside the ASPP
#: output and a stride-4 decoder, and it is also what `cosnet explain` shows
#: (saved_models/cosnet_mobilenetv2_davis.md). The trained preset "cosnet_mobilenetv2_davis".
SHIPPED_MODEL = os.path.join("saved_models", "cosnet_mobilenetv2_davis.keras")
#: The staged config that trains it, all stages in one command: `cosnet train --config TRAINING_CONFIG`.
TRAINING_CONFIG = os.path.join("training", "configs", "cosnet_mobilenetv2_davis.toml")
#: The shipped co-attention model (the default).
COATTENTION_MODEL = SHIPPED_MODEL
#: Its `coattention=None` twin: the same recipe and budget, frame by frame. The trained preset
#: "cosnet_mobilenetv2_davis_none".
NO_COATTENTION_MODEL = os.path.join("saved_models", "cosnet_mobilenetv2_davis_none.keras")
#: The staged config that trains the twin.
NO_COATTENTION_TRAINING_CONFIG = os.path.join("training", "configs", "cosnet_mobilenetv2_davis_none.toml")
#: The shipped files: found from any working directory.
SHIPPED_FILES = (SHIPPED_MODEL, NO_COATTENTION_MODEL)

_FOLDER = "saved_models"


def _installed_folder():
    """`saved_models/` inside the imported `cosnet_tf` package (a wheel's package data), or None."""
    from importlib import resources

    folder = resources.files("cosnet_tf") / _FOLDER
    # Keras reads a file path; a package imported from a zip has none (a checkout is looked at next).
    return os.fspath(folder) if isinstance(folder, os.PathLike) else None


def _repository_root():
    here = os.path.dirname(os.path.abspath(__file__))  # cosnet_tf/models
    return os.path.dirname(os.path.dirname(here))


def shipped_model_path(relative_path=None):
    """The file of a shipped model: in the installed package first, then in the checkout.

    Args:
        relative_path: the file relative to the repository root (default `SHIPPED_MODEL`);
            one in `saved_models/` is also looked for in the package data.

    Raises:
        FileNotFoundError: naming the places looked in and how to train or pass a model.
    """
    relative_path = relative_path or SHIPPED_MODEL
    folder, name = os.path.split(os.path.normpath(relative_path))
    installed = _installed_folder() if folder == _FOLDER else None
    candidates = [os.path.join(installed, name)] if installed else []
    candidates.append(os.path.join(_repository_root(), relative_path))
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"the shipped model {relative_path} does not exist (looked in {' and '.join(candidates)}; the "
        f"package data of a cosnet-tf wheel and a checkout of the repository have it, and "
        f"`cosnet train --config {TRAINING_CONFIG}` writes it); pass a .keras path instead"
    )

