"""Keras dtype policies: one set for the layers built inside a `with` block, and "auto"."""
import contextlib

import keras

# Hardware that computes in bf16 natively. Elsewhere bf16 is emulated and slower than float32.
_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
_BF16_GPU_CAPABILITY = (8, 0)  # Ampere and later


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
    keras.config.set_dtype_policy(resolve_dtype_policy(name)[0])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The feature flags of this machine's CPU (Linux's /proc/cpuinfo); empty where unreadable."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def gpu_compute_capabilities():
    """(major, minor) of each visible GPU (TensorFlow's view); [] without one."""
    import tensorflow as tf

    details = [tf.config.experimental.get_device_details(g) for g in tf.config.list_physical_devices("GPU")]
    return [tuple(d.get("compute_capability") or (0, 0)) for d in details]


def resolve_dtype_policy(name, flags=None, gpu_capabilities=None):
    """(policy, why): `name` itself, or for "auto" what this machine computes fastest.

    "auto" is "mixed_bfloat16" where every visible GPU is an Ampere or later one,
    or, without a GPU, where the CPU has AMX or AVX-512 BF16 instructions; otherwise
    "float32" (bf16 would be emulated, and slower). `flags` and `gpu_capabilities`
    stand in for this machine's (`cpu_flags()`, `gpu_compute_capabilities()`).

    >>> resolve_dtype_policy("auto", flags={"avx2", "avx512_bf16"}, gpu_capabilities=[])
    ('mixed_bfloat16', 'the CPU has avx512_bf16')
    >>> resolve_dtype_policy("auto", flags={"avx2"}, gpu_capabilities=[])[0]
    'float32'
    >>> resolve_dtype_policy("auto", flags=set(), gpu_capabilities=[(7, 0)])
    ('float32', 'GPU compute capability (7, 0) < (8, 0)')
    """
    if name != "auto":
        return name, "as set"
    capabilities = gpu_compute_capabilities() if gpu_capabilities is None else list(gpu_capabilities)
    if capabilities:
        oldest = min(capabilities)
        if oldest >= _BF16_GPU_CAPABILITY:
            return "mixed_bfloat16", f"GPU compute capability {oldest}"
        return "float32", f"GPU compute capability {oldest} < {_BF16_GPU_CAPABILITY}"
    flags = cpu_flags() if flags is None else set(flags)
    native = [flag for flag in _BF16_CPU_FLAGS if flag in flags]
    if native:
        return "mixed_bfloat16", f"the CPU has {native[0]}"
    return "float32", "no GPU, and the CPU has no AMX or AVX-512 BF16"


def emulated_bf16_warning(name, flags=None, gpu_capabilities=None):
    """A warning for a run set to "mixed_bfloat16" on hardware that only emulates bf16; else None.

    Emulated bf16 is slower than float32, not faster (measured in
    docs/research-log.md#2026-12-07--emulated-bf16-on-an-avx2-cpu-and-the-shipped-models-scores-there).

    >>> print(emulated_bf16_warning("mixed_bfloat16", flags={"avx2"}, gpu_capabilities=[]))
    dtype_policy = "mixed_bfloat16" on a machine where bf16 is emulated (no GPU, and the CPU has no AMX or AVX-512 BF16): training runs slower than in float32; dtype_policy = "auto" (--dtype-policy auto) picks float32 here
    >>> emulated_bf16_warning("mixed_bfloat16", flags={"avx512_bf16"}, gpu_capabilities=[]) is None
    True
    """
    if name != "mixed_bfloat16":
        return None
    native, why = resolve_dtype_policy("auto", flags=flags, gpu_capabilities=gpu_capabilities)
    if native == "mixed_bfloat16":
        return None
    return (f'dtype_policy = "mixed_bfloat16" on a machine where bf16 is emulated ({why}): training runs '
            f'slower than in float32; dtype_policy = "auto" (--dtype-policy auto) picks float32 here')
