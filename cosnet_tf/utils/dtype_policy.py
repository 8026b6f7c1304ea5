"""A Keras global dtype policy for the layers built inside a `with` block only."""
import contextlib

import keras


@contextlib.contextmanager
def global_dtype_policy(name):
    """Sets Keras's global dtype policy to `name` inside the block, and restores the previous one.

    Keras layers take the global policy when they are constructed, so a network built inside
    the block keeps `name` after it:

    >>> import keras
    >>> with global_dtype_policy("mixed_bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.compute_dtype, layer.variable_dtype, keras.config.dtype_policy().name
    ('bfloat16', 'float32', 'float32')
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
