"""Install in parts: each optional extra, when absent, is named in the error of what needs it."""
import sys

import numpy as np
import pytest

from cosnet_tf.utils.extras import EXTRAS, require


@pytest.fixture
def missing(monkeypatch):
    """Makes `import NAME` (and its submodules) fail, as when the extra is not installed."""

    def hide(*names):
        for name in list(sys.modules):
            if any(name == n or name.startswith(n + ".") for n in names):
                monkeypatch.delitem(sys.modules, name)
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError

    return hide


def test_require_names_the_extra_and_its_packages(missing):
    missing("av")
    with pytest.raises(ImportError, match=r'reading x needs the \'video\' extra: pip install "cosnet-tf\[video\]" '
                                          r"\(or pip install av>=12\)"):
        require("av", "video", "reading x")
    with pytest.raises(ValueError, match="unknown extra"):
        require("numpy", "no-such-extra", "x")


def test_setup_reads_the_same_extras():
    import runpy
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "setup.py").read_text()
    assert "cosnet_tf\", \"utils\", \"extras.py\"" in source and "**EXTRAS" in source
    assert set(EXTRAS) == {"video", "crf", "serve", "tune", "plots", "analysis", "torch", "litert"}
    assert runpy.run_path(str(Path(__file__).resolve().parents[1] / "cosnet_tf" / "utils" / "extras.py"))[
        "EXTRAS"] == EXTRAS


def test_video_files_need_the_video_extra(missing, tmp_path):
    from cosnet_tf.inference import open_frame_source

    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 64)
    missing("av")
    with pytest.raises(ImportError, match=r"clip.mp4.*cosnet-tf\[video\]"):
        open_frame_source(str(path))


def test_error_regions_need_the_analysis_extra(missing):
    from cosnet_tf.evaluation import error_regions

    missing("scipy")
    with pytest.raises(ImportError, match=r"errors into regions.*cosnet-tf\[analysis\]"):
        error_regions(np.zeros((4, 4)), np.zeros((4, 4)))


def test_paired_difference_needs_the_analysis_extra(missing):
    from cosnet_tf.evaluation import EvaluationResult, ResultRow, paired_difference

    rows = (ResultRow("a", "sequence", 3, {"J_mean": 0.5}), ResultRow("b", "sequence", 3, {"J_mean": 0.7}))
    result = EvaluationResult("davis2016", ("J_mean",), rows, ResultRow("overall", "overall", 6, {"J_mean": 0.6}))
    missing("scipy")
    with pytest.raises(ImportError, match=r"bootstrap interval.*cosnet-tf\[analysis\]"):
        paired_difference(result, result)


def test_crf_needs_the_crf_extra(missing):
    from cosnet_tf.postprocessing import DenseCRF

    missing("pydensecrf")
    with pytest.raises(ImportError, match=r"--crf.*cosnet-tf\[crf\]"):
        DenseCRF()(np.zeros((8, 8, 3), np.uint8), np.full((8, 8), 0.5, np.float32))


def test_serving_needs_the_serve_extra(missing, tmp_path):
    from cosnet_tf.serving import GrpcPredictClient, ModelServer

    missing("grpc", "tensorflow_serving")
    with pytest.raises(ImportError, match=r"cosnet-tf\[serve\]"):
        GrpcPredictClient("127.0.0.1:1", "m")
    with pytest.raises(ImportError, match=r"cosnet serve.*cosnet-tf\[serve\]"):
        ModelServer(str(tmp_path))


def test_tuning_needs_the_tune_extra_but_training_does_not():
    import subprocess

    # A fresh interpreter without keras_tuner: what `cosnet train` imports from the tuning
    # package still works, and the search itself names the extra.
    code = (
        "import sys; sys.modules['keras_tuner'] = None\n"
        "from cosnet_tf.evaluation.video_j_evaluator import EvaluationGrid\n"
        "from cosnet_tf.cli.main import build_parser\n"
        "build_parser()\n"
        "print('grid', EvaluationGrid(refs=[0, 2]).refs)\n"
        "from cosnet_tf.tuning import run_search\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "grid [0, 2]" in result.stdout, result.stderr
    assert result.returncode != 0 and "cosnet-tf[tune]" in result.stderr


def test_plots_need_the_plots_extra_and_evaluate_still_scores(missing, tmp_path, capsys):
    from cosnet_tf.cli.main import main
    from cosnet_tf.data import SyntheticVideoGenerator

    root = SyntheticVideoGenerator(num_sequences=1, num_frames=4, image_size=(24, 32),
                                   num_val_sequences=0).write_davis(tmp_path / "davis")
    missing("matplotlib")
    pred = tmp_path / "pred"
    import shutil

    shutil.copytree(root / "Annotations" / "480p", pred)
    assert main(["evaluate", "--pred", str(pred), "--gt", str(root), "--protocol", "davis2016"]) == 0
    out = capsys.readouterr().out
    assert "no plot:" in out and "cosnet-tf[plots]" in out
    assert (pred / "davis2016.json").exists() and not (pred / "davis2016_per_sequence.png").exists()


def test_the_core_alone_imports_the_package_and_builds_every_command():
    import subprocess

    # (torch is left alone: Keras probes sys.modules["torch"] itself; the core never imports it.)
    hidden = ["av", "pydensecrf", "grpc", "tensorflow_serving", "keras_tuner", "matplotlib"]
    code = (
        f"import sys\nfor name in {hidden!r}: sys.modules[name] = None\n"
        "import cosnet_tf, cosnet_tf.inference, cosnet_tf.training, cosnet_tf.evaluation, cosnet_tf.export\n"
        "from cosnet_tf.cli.main import build_parser\n"
        "parser = build_parser()\n"
        "print(sorted(parser._subparsers._group_actions[0].choices))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for command in ("demo", "train", "segment", "evaluate", "serve", "predict", "tune", "explain"):
        assert f"'{command}'" in result.stdout
