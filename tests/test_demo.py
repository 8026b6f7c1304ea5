"""`cosnet demo`, README's first command, end to end on a reduced setting."""
import os
import re
import subprocess
import sys

import pytest
from PIL import Image

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_demo_trains_both_models_reports_j_and_draws_each_held_out_video(tmp_path):
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "cosnet_tf.cli.main", "demo", "--workdir", str(workdir),
         "--steps", "20", "--sequences", "6", "--val-sequences", "2", "--frames", "5", "--size", "64", "64"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scores = dict(re.findall(r"^\s+(N = \d+|no co-attention): mean J = ([0-9.]+)", result.stdout, re.M))
    assert set(scores) == {"N = 0", "N = 5", "no co-attention"}, result.stdout
    assert all(0.0 <= float(v) <= 1.0 for v in scores.values())
    pictures = sorted((workdir / "pictures").glob("*.png"))
    assert [p.stem for p in pictures] == ["recurrence-004", "recurrence-005"]
    width, height = Image.open(pictures[0]).size
    assert width == 5 * 64 and height > 5 * 64  # frame | truth | N = 0 | N = 5 | none, one row per frame
    assert (workdir / "coattention" / "final.keras").exists()
    assert (workdir / "no-coattention" / "final.keras").exists()
