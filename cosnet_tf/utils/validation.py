"""Checks of user-given values that raise errors naming the field."""
import numbers


def positive_int(name, value):
    """`value` as an int, or a ValueError naming `name` when it is not a positive integer.

    Example:

    >>> positive_int("short_side", 320.0)
    320
    """
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name, value):
    """`value` as an int, or a ValueError naming `name` when it is not an integer >= 0.

    Example:

    >>> non_negative_int("lag", 0)
    0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def positive_size(name, size):
    """`size` as an (int, int) pair (None stays None), or a ValueError naming `name`.

    Example:

    >>> positive_size("input_size", [320, 576])
    (320, 576)
    """
    if size is None:
        return None
    size = tuple(size)
    if len(size) != 2 or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in size
    ):
        raise ValueError(f"{name} must be (height, width) of positive integers, got {size!r}")
    return int(size[0]), int(size[1])
