"""The orthogonality penalty of Eq. 12, which `SymmetricCoAttention` adds as a layer loss."""
from keras import ops


def orthogonality_penalty(projection, weight=1e-4):
    """`weight * ||P P^T - I||_F`: how far the projection P is from orthogonal (Eq. 12).

    The paper writes the penalty on W; for the symmetric co-attention
    W = P^T D P, and it is P that must be orthogonal for W to be symmetric
    with D as its eigenvalues (Eq. 4), so the penalty is taken on P.

    Example:

    >>> import numpy as np
    >>> round(float(orthogonality_penalty(np.eye(4, dtype="float32"), 1.0)), 4)
    0.0
    """
    projection = ops.convert_to_tensor(projection)
    gram = ops.matmul(projection, ops.transpose(projection))
    identity = ops.eye(ops.shape(projection)[0], dtype=gram.dtype)
    return weight * ops.sqrt(ops.sum(ops.square(gram - identity)) + 1e-12)
