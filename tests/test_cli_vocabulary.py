"""One CLI vocabulary: the same flag for the same idea in every sub-command, help that shows
defaults, old spellings that still work (with a warning), and parsers built without TensorFlow."""
import argparse
import os
import re
import subprocess
import sys

import pytest

from cosnet_tf.cli.flags import HelpFormatter
from cosnet_tf.cli.main import build_parser, main, package_version

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Spellings replaced by --out, --input-size and --short-side: never a visible flag.
OLD_SPELLINGS = {"--out-dir", "--report-dir", "--workdir", "--run-dir", "--image-size", "--size", "--inference-size"}
#: The sub-commands that write files: each names where with --out.
WRITERS = {"convert-weights", "demo", "train", "tune", "segment", "evaluate", "explain", "export", "predict"}
#: sub-command -> (module, function adding its parser).
PARSER_MODULES = {
    "convert-weights": ("cosnet_tf.cli.main", "add_convert_weights_parser"),
    "presets": ("cosnet_tf.cli.main", "add_presets_parser"),
    "segment": ("cosnet_tf.cli.segment_command", "add_segment_parser"),
    "evaluate": ("cosnet_tf.cli.evaluate_command", "add_evaluate_parser"),
    "explain": ("cosnet_tf.cli.explain_command", "add_explain_parser"),
    "export": ("cosnet_tf.cli.export_command", "add_export_parser"),
    "serve": ("cosnet_tf.cli.serve_command", "add_serve_parser"),
    "predict": ("cosnet_tf.cli.predict_command", "add_predict_parser"),
    "demo": ("cosnet_tf.cli.demo_command", "add_demo_parser"),
    "train": ("cosnet_tf.cli.train_command", "add_train_parser"),
    "tune": ("cosnet_tf.cli.tune_command", "add_tune_parser"),
}

@pytest.fixture(scope="module")
def subparsers():
    parser = build_parser()
    return parser, parser._subparsers._group_actions[0].choices


def _run(code, *args):
    environment = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "COSNET_VERBOSE")}
    environment["PYTHONPATH"] = REPO + os.pathsep + environment.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_every_command_is_walked(subparsers):
    _, commands = subparsers
    assert set(commands) == set(PARSER_MODULES)


@pytest.mark.parametrize("command", sorted(PARSER_MODULES))
def test_each_command_speaks_the_vocabulary(subparsers, command):
    _, commands = subparsers
    parser = commands[command]
    assert issubclass(parser.formatter_class, HelpFormatter)
    formatter = parser._get_formatter()
    visible = set()
    for action in parser._actions:
        if action.help is argparse.SUPPRESS:
            continue
        visible.update(action.option_strings)
        if action.option_strings and action.default is not None and action.default is not argparse.SUPPRESS:
            assert "default" in formatter._expand_help(action), f"{command} {action.option_strings[0]}"
    assert not visible & OLD_SPELLINGS
    model = next((a for a in parser._actions if "--model" in a.option_strings and a.help is not argparse.SUPPRESS), None)
    if model is not None:
        assert ".keras" in model.help and "preset" in model.help
    assert ("--out" in visible) == (command in WRITERS)
    assert "%%" not in parser.format_help()


def test_switches_come_in_pairs_and_keep_their_old_form(subparsers):
    parser, _ = subparsers
    args = parser.parse_args(["segment", "in", "--out", "o", "--crf", "--overlay", "--quiet"])
    assert (args.crf, args.overlay, args.quiet, args.save_probabilities) == (True, True, True, False)
    args = parser.parse_args(["segment", "in", "--out", "o", "--crf", "--no-crf"])
    assert args.crf is False
    assert parser.parse_args(["presets", "--no-count"]).count is False
    assert parser.parse_args(["presets"]).count is True


@pytest.mark.parametrize("argv, old, field, value", [
    (["evaluate", "--pred", "p", "--gt", "g", "--protocol", "fbms", "--out-dir", "o"], "--out-dir", "out", "o"),
    (["export", "--out", "o", "--inference-size", "32", "48"], "--inference-size", "input_size", [32, 48]),
    (["predict", "in", "--server", "s:1", "--model-name", "m", "--out", "o", "--version", "3"], "--version",
     "model_version", 3),
])
def test_old_spellings_still_parse_and_warn(subparsers, capsys, argv, old, field, value):
    parser, _ = subparsers
    assert getattr(parser.parse_args(argv), field) == value
    assert f"{old} is deprecated" in capsys.readouterr().err


def test_the_old_positional_output_of_convert_weights_warns(capsys):
    # A wrong suffix is refused before any conversion: the warning is all this checks.
    assert main(["convert-weights", "authors.npz", "out.txt"]) == 2
    error = capsys.readouterr().err
    assert "positional OUT of convert-weights is deprecated, use --out" in error
    assert "must end in .keras or .weights.h5" in error


@pytest.mark.parametrize("argv, message", [
    (["segment", "in", "--out", "o", "--refs", "-1"], "--refs: must be >= 0"),
    (["explain", "in", "--out", "o", "--refs", "0"], "--refs: must be >= 1"),
    (["export", "--out", "o", "--input-size", "32", "32", "--short-side", "32"], "not allowed with"),
    (["export", "--out", "o", "--short-side", "0"], "--short-side: must be >= 1"),
])
def test_bad_values_are_usage_errors(subparsers, capsys, argv, message):
    parser, _ = subparsers
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    assert message in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed == f"cosnet-tf {package_version()}"
    assert re.fullmatch(r"cosnet-tf \d+\.\d+\.\d+\S*", printed)


def test_the_package_imports_nothing_until_a_name_is_used():
    result = _run(
        "import sys, cosnet_tf\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'loaded at import'\n"
        "print(cosnet_tf.__version__)\n"
        "try:\n    cosnet_tf.no_such_name\nexcept AttributeError as error:\n    print(error)\n"
    )
    assert result.returncode == 0, result.stderr
    version, error = result.stdout.splitlines()
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version)
    assert "no_such_name" in error


def test_the_lazy_names_are_the_real_ones():
    import cosnet_tf
    from cosnet_tf.inference.segment_video import segment_video
    from cosnet_tf.models import COSNet
    from cosnet_tf.models.loading import load_model

    assert (cosnet_tf.COSNet, cosnet_tf.load_model, cosnet_tf.segment_video) == (COSNet, load_model, segment_video)
    assert set(cosnet_tf.__all__) <= set(dir(cosnet_tf))


_HELP_WITHOUT_TENSORFLOW = """
import argparse, importlib, sys
from cosnet_tf.cli.flags import HelpFormatter
module, function = sys.argv[1:3]
parser = argparse.ArgumentParser(prog="cosnet", formatter_class=HelpFormatter)
getattr(importlib.import_module(module), function)(parser.add_subparsers(dest="command"))
try:
    parser.parse_args([sys.argv[3], "--help"])
except SystemExit:
    pass
print("loaded=" + ",".join(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


@pytest.mark.parametrize("command", sorted(PARSER_MODULES))
def test_a_commands_help_loads_no_tensorflow(command):
    result = _run(_HELP_WITHOUT_TENSORFLOW, *PARSER_MODULES[command], command)
    assert result.returncode == 0, result.stderr
    assert f"usage: cosnet {command}" in result.stdout
    assert result.stdout.splitlines()[-1] == "loaded=", result.stdout.splitlines()[-1]


def test_cosnet_help_version_and_usage_errors_load_no_tensorflow():
    code = (
        "import sys, cosnet_cli\n"
        "for argv in (['--help'], ['--version'], ['segment', '--help'], ['segment', 'in', '--out', 'o', '--no-such-flag']):\n"
        "    try:\n        cosnet_cli.main(argv)\n    except SystemExit:\n        pass\n"
        "print('loaded:', 'tensorflow' in sys.modules)\n"
    )
    result = _run(code)
    assert result.stdout.splitlines()[-1] == "loaded: False", result.stderr
    assert "cosnet-tf " in result.stdout and "unrecognized arguments: --no-such-flag" in result.stderr
