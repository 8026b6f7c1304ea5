"""`cosnet demo`, README's first command, end to end on a reduced setting."""
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_demo_trains_segments_and_reports_j_for_both_settings(tmp_path):
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "cosnet_tf.cli.main", "demo", "--workdir", str(workdir),
         "--steps", "40", "--sequences", "4", "--frames", "6", "--size", "64", "96"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scores = dict(re.findall(r"N = (\d+): mean J = ([0-9.]+)", result.stdout))
    assert set(scores) == {"0", "5"}
    assert all(0.0 <= float(v) <= 1.0 for v in scores.values())
    for refs in ("N0", "N5"):
        masks = sorted((workdir / "predictions" / refs).rglob("*.png"))
        assert len(masks) == 6  # one held-out video of six frames
        assert list((workdir / "overlays" / refs).rglob("*.jpg"))
    assert (workdir / "run" / "final.keras").exists()
