"""`cosnet segment DIR` where DIR holds video files and frame folders: one output folder each."""
import os

import numpy as np
import pytest
from PIL import Image

from cosnet_tf.cli.main import main
from tests.conftest import conv_backbone, tiny_cosnet, write_video

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    model = root / "tiny.keras"
    tiny_cosnet(backbone=conv_backbone()).save(model)
    folder = root / "inputs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    write_video(folder / "clip.mp4", rng.integers(0, 255, (5, 32, 48, 3), dtype=np.uint8))
    (folder / "walk").mkdir()
    for index in range(3):
        Image.fromarray(rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(folder / "walk" / f"{index:05d}.jpg")
    (folder / "README.txt").write_text("not a video")  # neither a video nor a frame folder: left out
    (folder / ".hidden.mp4").write_bytes(b"")
    return dict(folder=str(folder), model=str(model))


def _masks(folder):
    return sorted(p.name for p in folder.glob("*.png"))


@pytest.mark.parametrize("online", [False, True])
def test_a_folder_with_a_video_file_and_a_frame_folder_gives_two_outputs(videos, tmp_path, online):
    out = tmp_path / "out"
    assert main(["segment", videos["folder"], "--out", str(out), "--model", videos["model"], "--refs", "2",
                 "--quiet"] + (["--online"] if online else [])) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip", "walk"]
    assert _masks(out / "clip") == [f"{i:05d}.png" for i in range(5)]
    assert _masks(out / "walk") == [f"{i:05d}.png" for i in range(3)]
    with Image.open(out / "walk" / "00002.png") as mask:
        assert mask.size == (40, 24)


def test_shards_and_skip_complete_work_on_a_folder_of_videos(videos, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["segment", videos["folder"], "--out", str(out), "--model", videos["model"], "--refs", "1", "--quiet"]
    assert main(base + ["--shard", "0/2"]) == 0
    assert sorted(os.listdir(out)) == ["clip"]
    assert main(base + ["--shard", "1/2"]) == 0
    assert sorted(os.listdir(out)) == ["clip", "walk"]
    stamp = (out / "clip" / "00000.png").stat().st_mtime_ns
    (out / "walk" / "00001.png").unlink()
    capsys.readouterr()
    assert main(base + ["--skip-complete"]) == 0
    assert "skipping 1 video(s) whose masks are complete: clip" in capsys.readouterr().out
    assert (out / "clip" / "00000.png").stat().st_mtime_ns == stamp
    assert _masks(out / "walk") == [f"{i:05d}.png" for i in range(3)]


def test_two_videos_with_one_name_are_refused(videos, tmp_path, capsys):
    folder = tmp_path / "inputs"
    folder.mkdir()
    write_video(folder / "a.mp4", np.zeros((2, 16, 16, 3), np.uint8))
    write_video(folder / "a.avi", np.zeros((2, 16, 16, 3), np.uint8))
    assert main(["segment", str(folder), "--out", str(tmp_path / "out"), "--model", videos["model"]]) == 2
    error = capsys.readouterr().err
    assert "a.avi" in error and "a.mp4" in error and "rename one" in error
