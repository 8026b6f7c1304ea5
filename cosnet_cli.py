"""The `cosnet` command's launcher: silences TensorFlow's start-up lines, then runs the CLI.

It lives outside the `cosnet_tf` package on purpose: importing anything under `cosnet_tf`
imports the package, and with it TensorFlow, whose C++ start-up logging (CUDA probing, CPU
features, absl) is printed while the library loads, before any setting can stop it. This
module imports TensorFlow first with stderr closed, unless `--verbose` is given or
COSNET_VERBOSE=1 is set. `cosnet_tf.cli.main:main` is the command itself.
"""
import contextlib
import os
import sys

VERBOSE_ENV = "COSNET_VERBOSE"


@contextlib.contextmanager
def _stderr_silenced():
    """Sends file descriptor 2 to /dev/null inside the block (C++ logging bypasses sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow(verbose=False):
    """Imports TensorFlow without its start-up lines, unless `verbose` or COSNET_VERBOSE=1.

    A failing import is retried with stderr open, so its error shows.
    """
    if verbose or os.environ.get(VERBOSE_ENV, "") not in ("", "0"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    try:
        with _stderr_silenced():
            import tensorflow  # noqa: F401
    except Exception:  # noqa: BLE001 - shown by the import below
        for name in [m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")]:
            sys.modules.pop(name)
        import tensorflow  # noqa: F401


def _wants_verbose(argv):
    """`cosnet --verbose ...`: the flag before the sub-command (`cosnet train --verbose 2` is train's own)."""
    for token in argv:
        if token == "--verbose":
            return True
        if not token.startswith("-"):
            return False
    return False


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = _wants_verbose(argv)
    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # also keeps cosnet_tf.cli.main from lowering the log level
    quiet_tensorflow(verbose)
    from cosnet_tf.cli.main import main as cosnet_main

    return cosnet_main(argv)


if __name__ == "__main__":
    sys.exit(main())
