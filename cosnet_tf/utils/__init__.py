"""Small shared helpers."""
from cosnet_tf.utils.atomic import (
    atomic_output_path,
    atomic_write_bytes,
    atomic_write_text,
    temporary_path_beside,
)

__all__ = ["atomic_output_path", "atomic_write_bytes", "atomic_write_text", "temporary_path_beside"]
