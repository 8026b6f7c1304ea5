"""The `cosnet` launcher starts without TensorFlow's C++ start-up lines; --verbose keeps them."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "COSNET_VERBOSE")}
    environment.update(env)
    code = "import sys, cosnet_cli; sys.exit(cosnet_cli.main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_cosnet_starts_quietly():
    result = _run("presets", "--no-count")
    assert result.returncode == 0, result.stderr
    assert "| preset |" in result.stdout
    assert result.stderr == ""


def test_verbose_leaves_tensorflow_logging_on():
    import cosnet_cli

    # The silencing is skipped (TensorFlow may print nothing on some machines, so the
    # check is on the switch, not on TensorFlow's output).
    environment = dict(os.environ)
    try:
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        cosnet_cli.quiet_tensorflow(verbose=True)
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
        os.environ[cosnet_cli.VERBOSE_ENV] = "1"
        cosnet_cli.quiet_tensorflow()
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    finally:
        os.environ.clear()
        os.environ.update(environment)


def test_errors_still_reach_stderr():
    result = _run("segment", "/no/such/folder", "--out", "/tmp/x")
    assert result.returncode != 0
    assert "/no/such/folder" in result.stderr


def test_only_the_top_level_verbose_flag_counts():
    import cosnet_cli

    assert cosnet_cli._wants_verbose(["--verbose", "segment", "x"])
    assert not cosnet_cli._wants_verbose(["train", "--config", "c.toml", "--verbose", "2"])
    assert not cosnet_cli._wants_verbose([])


def test_help_version_and_usage_errors_reach_the_terminal():
    # The parser is built with stderr closed (a command module may load TensorFlow), but parsed with it open.
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.startswith("cosnet-tf "), result.stderr
    result = _run("segment", "in", "--out", "o", "--no-such-flag")
    assert result.returncode == 2
    assert "usage: cosnet" in result.stderr and "unrecognized arguments: --no-such-flag" in result.stderr
