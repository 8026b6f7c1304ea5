"""The `cosnet` command's launcher: parses the command line, then loads TensorFlow quietly and runs it.

TensorFlow's C++ start-up logging (CUDA probing, CPU features, absl) is printed while the
library loads, before any setting can stop it. This module parses the arguments first (so
`--help`, `--version` and usage errors answer without loading TensorFlow), then imports
TensorFlow with stderr closed, unless `--verbose` is given or COSNET_VERBOSE=1 is set, and
only then runs the command (`cosnet_tf.cli.main`).
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


def _quiet(verbose):
    return not verbose and os.environ.get(VERBOSE_ENV, "") in ("", "0")


def quiet_tensorflow(verbose=False):
    """Imports TensorFlow without its start-up lines, unless `verbose` or COSNET_VERBOSE=1.

    A failing import is retried with stderr open, so its error shows.
    """
    if not _quiet(verbose):
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
    from cosnet_tf.cli.main import build_parser, run

    # Quiet also while building: a command module that loads TensorFlow would print its lines here.
    with _stderr_silenced() if _quiet(verbose) else contextlib.nullcontext():
        parser = build_parser()
    args = parser.parse_args(argv)  # --help, --version and usage errors exit here
    quiet_tensorflow(verbose)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
