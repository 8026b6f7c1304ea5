"""Conversion of the authors' released PyTorch weights."""
from cosnet_tf.conversion.official_weights import (
    load_official_weights,
    official_weight_map,
    read_state_dict,
)

__all__ = ["load_official_weights", "official_weight_map", "read_state_dict"]
