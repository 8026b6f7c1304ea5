"""The dev-score benchmark's settings: each becomes `cosnet segment` flags that the CLI accepts."""
import argparse

import pytest

from cosnet_tf.cli.main import build_parser
from tests.conftest import REPO_ROOT, load_script


@pytest.fixture(scope="module")
def scores():
    return load_script(REPO_ROOT / "benchmarks" / "davis_dev_scores.py")


def _args(**overrides):
    values = dict(short_sides=None, input_sizes=None, refs=[0, 5], fusions=None, samplings=["uniform"],
                  flip=False, crf=False, crf_workers=2)
    return argparse.Namespace(**{**values, **overrides})


def _segment(flags):
    return build_parser().parse_args(["segment", "frames/", "--out", "masks/"] + flags)


def test_without_fusions_each_model_fuses_its_own_way(scores):
    settings = scores.settings_from_args(_args())
    assert [label for label, _ in settings] == ["model default, N=0", "model default, N=5"]
    assert all("--fusion" not in flags and _segment(flags).fusion is None for _, flags in settings)
    assert [_segment(flags).refs for _, flags in settings] == [0, 5]


def test_fusions_are_compared_only_where_there_are_references(scores):
    settings = scores.settings_from_args(_args(fusions=["attention", "joint"], flip=True))
    assert [label for label, _ in settings] == [
        "model default, N=0", "model default, N=0, flip",
        "model default, N=5, attention, uniform", "model default, N=5, attention, uniform, flip",
        "model default, N=5, joint, uniform", "model default, N=5, joint, uniform, flip"]
    parsed = [_segment(flags) for _, flags in settings]
    assert [(p.fusion, p.flip) for p in parsed[2:]] == [("attention", False), ("attention", True),
                                                        ("joint", False), ("joint", True)]


def test_an_unknown_fusion_is_refused(scores, capsys):
    with pytest.raises(SystemExit):
        scores.main(["model.keras", "--fusions", "mean"])
    assert "invalid choice: 'mean'" in capsys.readouterr().err
