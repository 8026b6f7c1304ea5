"""Synthetic benchmarks written once to a DAVIS-layout root (`cosnet train`'s `benchmark`, `cosnet tune`'s `[synthetic]`)."""
import os
import shutil

from cosnet_tf.data.recurrence import RecurrenceVideoGenerator
from cosnet_tf.data.synthetic import SyntheticVideoGenerator

#: generator name -> class, as configs name them.
BENCHMARK_GENERATORS = {"synthetic": SyntheticVideoGenerator, "recurrence": RecurrenceVideoGenerator}


def benchmark_generator(settings, generator="synthetic"):
    """The generator a config's benchmark settings describe (its arguments, as read from TOML)."""
    if generator not in BENCHMARK_GENERATORS:
        raise ValueError(f"unknown benchmark generator {generator!r}; expected one of {sorted(BENCHMARK_GENERATORS)}")
    settings = dict(settings)
    if "image_size" in settings:
        settings["image_size"] = tuple(settings["image_size"])
    return BENCHMARK_GENERATORS[generator](**settings)


def write_benchmark_once(root, settings, generator="synthetic"):
    """Writes the generator's videos to `root` unless that folder exists; returns True if it wrote.

    Written to `root.partial` (removed first if a run was interrupted) and renamed when
    complete, so a half-written dataset is never taken for data.
    """
    if os.path.isdir(root):
        return False
    videos = benchmark_generator(settings, generator)
    partial = os.fspath(root).rstrip("/\\") + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    videos.write_davis(partial)
    os.replace(partial, root)
    return True
