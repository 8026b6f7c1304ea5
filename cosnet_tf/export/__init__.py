"""SavedModel export for TensorFlow Serving (see `cosnet_tf.export.saved_model` and docs/serving.md),
LiteRT export (`cosnet_tf.export.litert`)."""
from cosnet_tf.export.litert import LITERT_VARIANTS, export_litert

from cosnet_tf.export.saved_model import (
    FUSIONS,
    MAY_BE_EMPTY,
    SIGNATURE_NAMES,
    export_saved_model,
    model_versions,
    prepare_frames,
    resolve_export_dir,
)

__all__ = [
    "FUSIONS",
    "LITERT_VARIANTS",
    "export_litert",
    "MAY_BE_EMPTY",
    "SIGNATURE_NAMES",
    "export_saved_model",
    "model_versions",
    "prepare_frames",
    "resolve_export_dir",
]
