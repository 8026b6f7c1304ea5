"""`cosnet segment` and `cosnet evaluate`: videos in, masks out, clear errors, atomic writes."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from cosnet_tf.cli import segment_command
from cosnet_tf.cli.main import main
from cosnet_tf.data import SyntheticVideoGenerator
from tests.conftest import REPO_ROOT, conv_backbone, tiny_cosnet, write_video

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("segment")
    model_path = root / "tiny.keras"
    tiny_cosnet(backbone=conv_backbone()).save(model_path)
    generator = SyntheticVideoGenerator(num_sequences=2, num_frames=4, image_size=(32, 48), seed=3,
                                        num_val_sequences=1)
    davis = generator.write_davis(root / "davis")
    frames = SyntheticVideoGenerator(num_sequences=1, num_frames=6, image_size=(40, 56),
                                     seed=1).render_sequence(0).frames
    video = write_video(root / "clip.mp4", frames)
    return dict(root=root, model=str(model_path), davis=str(davis), video=video,
                names=generator.sequence_names)


def _read(path):
    with Image.open(path) as image:
        image.load()
        return image.mode, np.asarray(image)


def test_a_video_file_in_masks_out(workspace, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["segment", workspace["video"], "--out", str(out), "--model", workspace["model"],
                 "--refs", "2", "--quiet", "--overlay", "--save-probabilities",
                 "--probability-bits", "16"])
    assert code == 0
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i:05d}.png" for i in range(6)]
    for path in out.glob("*.png"):
        mode, mask = _read(path)
        assert mode == "L" and mask.shape == (40, 56) and set(np.unique(mask)) <= {0, 255}
    mode, probability = _read(out / "probabilities" / "00003.png")
    assert mode.startswith("I") and probability.shape == (40, 56)
    assert len(list((out / "overlays").glob("*.jpg"))) == 6
    with av.open(str(out / "overlays" / "clip.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left
    assert "frames/s" in capsys.readouterr().out


def test_a_davis_root_gives_the_layout_cosnet_evaluate_reads(workspace, tmp_path, capsys):
    out, scores = tmp_path / "pred", tmp_path / "scores"
    name = workspace["names"][1]
    assert main(["segment", workspace["davis"], "--out", str(out), "--model", workspace["model"],
                 "--refs", "1", "--sampling", "local", "--sequences", name, "--quiet",
                 "--crf", "--crf-iterations", "2", "--crf-workers", "2"]) == 0
    assert sorted(p.name for p in (out / name).iterdir()) == [f"{i:05d}.png" for i in range(4)]
    assert main(["evaluate", "--pred", str(out), "--gt", workspace["davis"], "--protocol", "davis2016",
                 "--sequences", name, "--out", str(scores)]) == 0
    result = json.loads((scores / "davis2016.json").read_text())
    assert [row["name"] for row in result["sequences"]] == [name]
    assert (scores / "davis2016.csv").read_text().startswith("kind,name,num_frames")
    assert (scores / "davis2016_per_sequence.png").read_bytes().startswith(b"\x89PNG")
    assert name in capsys.readouterr().out


def test_evaluate_scores_perfect_predictions_as_perfect(workspace, tmp_path):
    annotations = os.path.join(workspace["davis"], "Annotations", "480p")
    pred = tmp_path / "pred"
    shutil.copytree(annotations, pred)
    assert main(["evaluate", "--pred", str(pred), "--gt", workspace["davis"],
                 "--protocol", "davis2016"]) == 0
    result = json.loads((pred / "davis2016.json").read_text())
    assert result["overall"]["values"]["J_mean"] == pytest.approx(1.0)
    assert (pred / "davis2016.csv").exists() and (pred / "davis2016_per_sequence.png").exists()


def _frames_folder(folder, sizes):
    folder.mkdir()
    for index, (height, width) in enumerate(sizes):
        Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(folder / f"{index:05d}.jpg")
    return folder


@pytest.mark.parametrize("case", ["empty folder", "mixed sizes", "unreadable frame", "not a video",
                                  "truncated frame"])
def test_bad_inputs_give_an_error_naming_the_file(workspace, tmp_path, capsys, case):
    if case == "empty folder":
        target = tmp_path / "frames"
        target.mkdir()
        (target / "notes.txt").write_text("no frames here")
        expected = str(target)
    elif case == "mixed sizes":
        target = _frames_folder(tmp_path / "frames", [(32, 48), (32, 48), (40, 48)])
        expected = "00002.jpg"
    elif case == "unreadable frame":
        target = _frames_folder(tmp_path / "frames", [(32, 48)] * 3)
        (target / "00001.jpg").write_bytes(b"this is not a jpeg")
        expected = "00001.jpg"
    elif case == "not a video":
        target = tmp_path / "clip.mp4"
        target.write_bytes(b"\x00garbage" * 50)
        expected = str(target)
    else:  # a valid header but cut-off pixel data: found while decoding, mid-run
        target = _frames_folder(tmp_path / "frames", [(32, 48)] * 3)
        data = (target / "00002.jpg").read_bytes()
        (target / "00002.jpg").write_bytes(data[: len(data) // 2])
        expected = "00002.jpg"
    code = main(["segment", str(target), "--out", str(tmp_path / "out"), "--model", workspace["model"],
                 "--refs", "1", "--quiet"])
    error = capsys.readouterr().err
    assert code == 2
    assert "cosnet segment: error:" in error and expected in error, error


def test_a_missing_default_model_suggests_model(tmp_path, monkeypatch, capsys):
    frames = _frames_folder(tmp_path / "frames", [(32, 48)] * 2)
    monkeypatch.setattr(segment_command, "DEFAULT_MODEL", "saved_models/no-such-model.keras")
    assert main(["segment", str(frames), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "no-such-model.keras does not exist" in error and "--model" in error


class _Crash(Exception):
    pass


def test_a_crash_while_writing_leaves_no_half_written_mask(workspace, tmp_path, monkeypatch):
    from cosnet_tf.inference import mask_writer

    real_replace = os.replace
    calls = []

    def replace_then_crash(source, target):
        # The third mask's temporary file is complete here; crash before the rename.
        calls.append(target)
        if len(calls) == 3:
            assert os.path.getsize(source) > 0
            raise _Crash("simulated crash")
        real_replace(source, target)

    monkeypatch.setattr(mask_writer.os, "replace", replace_then_crash)
    out = tmp_path / "out"
    with pytest.raises(_Crash):
        main(["segment", workspace["video"], "--out", str(out), "--model", workspace["model"],
              "--refs", "1", "--quiet"])
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png"]  # no partial, no temporary
    for name in ("00000.png", "00001.png"):
        assert _read(out / name)[1].shape == (40, 56)


def test_a_killed_writer_leaves_no_partial_png(tmp_path):
    # SIGKILL between writing a mask's temporary file and renaming it: the
    # cleanup code cannot run, and still no .png file is partial.
    out = tmp_path / "out"
    module = REPO_ROOT / "cosnet_tf" / "inference" / "mask_writer.py"
    script = textwrap.dedent(f"""
        import importlib.util, os, signal
        import numpy as np
        spec = importlib.util.spec_from_file_location("mask_writer", {str(module)!r})
        mask_writer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mask_writer)
        real_replace = os.replace
        def replace(source, target):
            if target.endswith("00002.png"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(source, target)
        mask_writer.os.replace = replace
        writer = mask_writer.MaskWriter({str(out)!r})
        for index in range(5):
            writer.write(index, np.full((24, 32), 0.9, np.float32))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()
    from cosnet_tf.evaluation import list_mask_frames

    names = sorted(os.listdir(out))
    assert [n for n in names if n.endswith(".png")] == ["00000.png", "00001.png"]
    leftovers = [n for n in names if not n.endswith(".png")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".") and leftovers[0].endswith(".part")
    assert [stem for stem, _ in list_mask_frames(out)] == ["00000", "00001"]
    for name in ("00000.png", "00001.png"):
        assert np.all(_read(out / name)[1] == 255)


def test_shards_cover_every_video_once_and_resume_without_redoing_finished_ones(workspace, tmp_path, capsys):
    out = tmp_path / "pred"
    davis = SyntheticVideoGenerator(num_sequences=5, num_frames=3, image_size=(32, 48), seed=5,
                                    num_val_sequences=0).write_davis(tmp_path / "davis")
    base = ["segment", str(davis), "--out", str(out), "--model", workspace["model"], "--refs", "1", "--quiet"]
    names = sorted(os.listdir(os.path.join(davis, "JPEGImages", "480p")))
    assert len(names) == 5
    seen = []
    for index in range(2):
        before = set(os.listdir(out)) if out.exists() else set()
        assert main(base + ["--shard", f"{index}/2"]) == 0
        seen += sorted(set(os.listdir(out)) - before)
    assert sorted(seen) == names  # the union is every video exactly once
    assert seen[: len(names[0::2])] == names[0::2]
    # An interrupted shard: one mask of its first video is missing, the rest is complete.
    finished = {name: (out / name / "00000.png").stat().st_mtime_ns for name in names}
    (out / names[0] / "00002.png").unlink()
    capsys.readouterr()
    assert main(base + ["--shard", "0/2"]) == 0
    assert (out / names[0] / "00002.png").exists()
    assert (out / names[0] / "00000.png").stat().st_mtime_ns != finished[names[0]]
    for name in names[2::2]:
        assert (out / name / "00000.png").stat().st_mtime_ns == finished[name]
    assert f"skipping 2 video(s) whose masks are complete: {names[2]}, {names[4]}" in capsys.readouterr().out
    # A finished shard run again segments nothing.
    assert main(base + ["--shard", "1/2"]) == 0
    for name in names[1::2]:
        assert (out / name / "00000.png").stat().st_mtime_ns == finished[name]


@pytest.mark.parametrize("shard", ["2/2", "x/3", "1"])
def test_bad_shards_are_refused(workspace, tmp_path, shard, capsys):
    with pytest.raises(SystemExit):
        main(["segment", workspace["davis"], "--out", str(tmp_path), "--shard", shard])
    assert "--shard" in capsys.readouterr().err


def test_shard_needs_a_davis_root(workspace, tmp_path, capsys):
    assert main(["segment", workspace["video"], "--out", str(tmp_path), "--model", workspace["model"],
                 "--shard", "0/2"]) == 2
    assert "--shard needs a DAVIS root" in capsys.readouterr().err
