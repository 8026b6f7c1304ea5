"""Training losses of COSNet: Eq. 11 and the orthogonality penalty of Eq. 12."""
from cosnet_tf.losses.orthogonality import orthogonality_penalty
from cosnet_tf.losses.weighted_bce import WeightedBinaryCrossentropy

__all__ = ["WeightedBinaryCrossentropy", "orthogonality_penalty"]
