"""The orthogonality penalty of Eq. 12 (defined with the symmetric co-attention layer that adds it)."""
from cosnet_tf.layers.orthogonality import orthogonality_penalty

__all__ = ["orthogonality_penalty"]
