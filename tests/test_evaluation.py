"""Tests of cosnet_tf.evaluation: metrics on hand-computed cases and the three protocols.

Every dataset is generated in a tmp_path; nothing depends on ../shared.
"""
import json
import math
import pathlib

import numpy as np
import pytest
from PIL import Image

from cosnet_tf.evaluation import (
    EvaluationResult,
    ResultRow,
    boundary_f_measure,
    boundary_precision_recall,
    decay_score,
    dilate_disk,
    error_regions,
    evaluate,
    list_mask_frames,
    mask_contours,
    mean_score,
    paired_difference,
    read_mask,
    recall_score,
    region_similarity,
    seg2bmap,
    temporal_stability,
)
from cosnet_tf.evaluation.sequence_statistics import decay_bins
from cosnet_tf.evaluation.temporal_stability import _trace_boundaries, match_cost


# --------------------------------------------------------------------------- helpers
def save_png(path, array, mode=None):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array) if mode is None else Image.fromarray(array, mode=mode)
    image.save(path)
    return path


def save_mask(path, mask):
    return save_png(path, mask.astype(np.uint8) * 255)


def save_palette(path, labels):
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def box(shape, top, left, height, width):
    mask = np.zeros(shape, bool)
    mask[top : top + height, left : left + width] = True
    return mask


def disk(shape, cy, cx, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


# --------------------------------------------------------------------------- mask reading
def test_read_mask_grey_threshold_and_label_types(tmp_path):
    grey = np.array([[0, 127, 128, 255]], np.uint8)
    assert read_mask(save_png(tmp_path / "g.png", grey)).tolist() == [[False, False, True, True]]
    assert read_mask(tmp_path / "g.png", threshold=0).tolist() == [[False, True, True, True]]

    labels = np.array([[0, 1, 2, 0]], np.uint8)  # palette indices: any nonzero label is foreground
    assert read_mask(save_palette(tmp_path / "p.png", labels)).tolist() == [[False, True, True, False]]

    rgb = np.zeros((1, 3, 3), np.uint8)
    rgb[0, 1] = (200, 0, 0)
    rgb[0, 2] = (0, 0, 100)
    assert read_mask(save_png(tmp_path / "c.png", rgb)).tolist() == [[False, True, False]]

    sixteen = np.array([[0, 3, 0]], np.uint16)  # 16-bit label map
    assert read_mask(save_png(tmp_path / "i.png", sixteen)).tolist() == [[False, True, False]]


def test_read_mask_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_mask(missing)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=str(broken)):
        read_mask(broken)


def test_list_mask_frames_natural_order(tmp_path):
    for name in ["10.png", "9.png", "00011.png", ".hidden.png", "x.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert [stem for stem, _ in list_mask_frames(tmp_path)] == ["9", "10", "00011"]
    with pytest.raises(FileNotFoundError, match="missing"):
        list_mask_frames(tmp_path / "missing")


# --------------------------------------------------------------------------- J
def test_region_similarity_known_overlaps():
    a = box((10, 10), 0, 0, 10, 4)  # 40 px
    b = box((10, 10), 0, 2, 10, 4)  # 40 px, 20 shared
    assert region_similarity(a, b) == pytest.approx(20 / 60)
    assert region_similarity(a, a) == 1.0
    assert region_similarity(a, box((10, 10), 0, 6, 10, 4)) == 0.0
    # Integer masks: nonzero is foreground.
    assert region_similarity(a.astype(np.uint8) * 255, b.astype(np.int32)) == pytest.approx(1 / 3)


def test_region_similarity_empty_masks_follow_davis():
    empty = np.zeros((5, 5), bool)
    assert region_similarity(empty, empty) == 1.0
    assert region_similarity(empty, box((5, 5), 1, 1, 2, 2)) == 0.0
    assert region_similarity(box((5, 5), 1, 1, 2, 2), empty) == 0.0


def test_metrics_reject_mismatched_or_non_2d_masks():
    with pytest.raises(ValueError, match="shape"):
        region_similarity(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="2-D"):
        boundary_f_measure(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))


# --------------------------------------------------------------------------- F
def test_seg2bmap_matches_the_bsds_definition():
    mask = box((5, 6), 1, 1, 2, 3)
    expected = np.zeros((5, 6), bool)
    # A pixel is marked when it differs from its east, south or south-east neighbour.
    padded = np.pad(mask, ((0, 1), (0, 1)))
    for y in range(5):
        for x in range(6):
            neighbours = [padded[y, x + 1], padded[y + 1, x], padded[y + 1, x + 1]]
            if y == 4:
                neighbours = [padded[y, x + 1]]
            if x == 5:
                neighbours = [padded[y + 1, x]]
            expected[y, x] = any(mask[y, x] != n for n in neighbours)
    expected[-1, -1] = False
    np.testing.assert_array_equal(seg2bmap(mask), expected)


@pytest.mark.parametrize("radius", [0, 1, 2, 3, 5, 8])
def test_dilate_disk_equals_brute_force(radius):
    rng = np.random.default_rng(radius)
    mask = rng.random((23, 31)) < 0.05
    expected = np.zeros_like(mask)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy <= radius * radius:
                shifted = np.zeros_like(mask)
                src = mask[max(0, dy) : mask.shape[0] + min(0, dy), max(0, dx) : mask.shape[1] + min(0, dx)]
                shifted[max(0, -dy) : max(0, -dy) + src.shape[0], max(0, -dx) : max(0, -dx) + src.shape[1]] = src
                expected |= shifted
    np.testing.assert_array_equal(dilate_disk(mask, radius), expected)


def test_boundary_f_within_and_beyond_tolerance():
    # 100x100 frame: bound_pix = ceil(0.008 * 141.4) = 2 pixels.
    gt = np.zeros((100, 100), bool)
    gt[:, :50] = True  # one vertical boundary, at column 49
    for shift in (0, 1, 2):
        assert boundary_f_measure(np.roll(gt, shift, axis=1) | gt, gt) == 1.0
    assert boundary_f_measure(np.pad(gt, ((0, 0), (3, 0)))[:, :100], gt) == 0.0


def test_boundary_f_hand_computed_partial_match():
    # Top-left 50x50 quadrant; its boundary is column 49 (rows 0-49) + row 49 (cols 0-48): 99 px.
    gt = np.zeros((100, 100), bool)
    gt[:50, :50] = True
    pred = np.zeros((100, 100), bool)
    pred[:50, 10:60] = True  # shifted right by 10: 149 boundary pixels
    # Within 2 px: 3 pixels of the left edge + 42 of the bottom edge match, both ways.
    precision, recall = boundary_precision_recall(pred, gt)
    assert precision == pytest.approx(45 / 149)
    assert recall == pytest.approx(45 / 99)
    assert boundary_f_measure(pred, gt) == pytest.approx(90 / 248)


def test_boundary_f_empty_masks_follow_davis():
    empty = np.zeros((20, 20), bool)
    square = box((20, 20), 5, 5, 8, 8)
    assert boundary_f_measure(empty, empty) == 1.0
    assert boundary_f_measure(empty, square) == 0.0
    assert boundary_f_measure(square, empty) == 0.0
    assert boundary_precision_recall(empty, square) == (1.0, 0.0)
    assert boundary_precision_recall(square, empty) == (0.0, 1.0)


def test_boundary_tolerance_in_pixels_when_bound_th_at_least_one():
    gt = np.zeros((100, 100), bool)
    gt[:, :50] = True
    pred = np.zeros((100, 100), bool)
    pred[:, :55] = True
    assert boundary_f_measure(pred, gt) == 0.0
    assert boundary_f_measure(pred, gt, bound_th=5) == 1.0


# --------------------------------------------------------------------------- statistics
def test_mean_recall_decay_on_a_known_sequence():
    scores = [1.0, 0.9, 0.8, 0.3, 0.2, 0.1, 0.6, 0.4]
    assert mean_score(scores) == pytest.approx(4.3 / 8)
    assert recall_score(scores) == 0.5  # 1.0, 0.9, 0.8, 0.6 are > 0.5
    # MATLAB-style bins: round(linspace(1, 8, 5)) = 1, 3, 5, 6, 8 (4.5 rounds up), edges shared.
    assert decay_bins(8) == [(0, 2), (2, 4), (4, 5), (5, 7)]
    assert decay_score(scores) == pytest.approx((1.0 + 0.9 + 0.8) / 3 - (0.1 + 0.6 + 0.4) / 3)


def test_statistics_edge_cases():
    assert recall_score([0.5, 0.5]) == 0.0  # strictly above 0.5
    assert decay_score([0.7]) == 0.0
    assert math.isnan(mean_score([math.nan, math.nan]))
    assert mean_score([1.0, math.nan]) == 1.0
    with pytest.raises(ValueError):
        mean_score([])


# --------------------------------------------------------------------------- T
def test_contours_are_closed_clockwise_and_cover_the_mask():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = rng.random((15, 17)) < 0.5
        area = 0
        for points, is_hole in _trace_boundaries(mask):
            x, y = points[:, 1].astype(float), points[:, 0].astype(float)
            signed = 0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])
            area += -abs(signed) if is_hole else abs(signed)
            assert np.array_equal(points[0], points[-1])
        assert area == mask.sum()  # outer areas minus holes = pixel count
    ring = box((12, 12), 1, 1, 10, 10) & ~box((12, 12), 4, 4, 4, 4)
    outer, hole = mask_contours(ring)
    assert outer.tolist() == [[1, 1], [11, 1], [11, 11], [1, 11], [1, 1]]  # clockwise on screen
    assert hole.tolist() == [[4, 4], [4, 8], [8, 8], [8, 4], [4, 4]]  # counter-clockwise


def test_match_cost_is_invariant_to_the_circular_start():
    rng = np.random.default_rng(3)
    cost = rng.random((30, 30))
    np.fill_diagonal(cost, 0.0)
    assert match_cost(cost) == 0.0
    assert match_cost(np.roll(np.roll(cost, 7, axis=0), 3, axis=1)) == 0.0


def test_temporal_stability_basic_cases():
    shape = (80, 100)
    shape_a = disk(shape, 40, 45, 20) | box(shape, 30, 55, 20, 25)
    assert temporal_stability(shape_a, np.roll(shape_a, (4, 6), axis=(0, 1))) == 0.0
    assert math.isnan(temporal_stability(shape_a, np.zeros(shape)))
    assert math.isnan(temporal_stability(np.zeros(shape), np.zeros(shape)))
    assert temporal_stability(shape_a, box(shape, 10, 10, 60, 20)) > 0.05


def test_temporal_stability_lower_for_smooth_motion_than_for_jitter():
    shape = (90, 120)
    rng = np.random.default_rng(7)
    smooth = [disk(shape, 45, 30 + 3 * t, 18) | box(shape, 40, 30 + 3 * t, 10, 30) for t in range(8)]
    jitter = []
    for t in range(8):
        if t % 2:
            jitter.append(box(shape, 20 + rng.integers(0, 10), 20 + rng.integers(0, 10), 30 + rng.integers(0, 30), 60))
        else:
            jitter.append(disk(shape, 45, 60, 15 + rng.integers(0, 20)) | box(shape, 10, 55, 70, 8))
    smooth_t = np.mean([temporal_stability(a, b) for a, b in zip(smooth[:-1], smooth[1:])])
    jitter_t = np.mean([temporal_stability(a, b) for a, b in zip(jitter[:-1], jitter[1:])])
    assert smooth_t < 0.05
    assert jitter_t > 3 * smooth_t + 0.05


# --------------------------------------------------------------------------- DAVIS-2016
SHAPE = (48, 64)
GT_MASK = box(SHAPE, 12, 16, 24, 32)
HALF_MASK = box(SHAPE, 12, 16, 24, 16)  # exactly half of GT_MASK: J = 0.5


def make_davis(tmp_path, num_frames=6):
    """Two sequences. 'alpha': frames 1, 2 perfect, 3, 4 half; wrong first/last frames.
    'beta': all scored frames perfect, first and last predictions missing."""
    gt_dir = tmp_path / "DAVIS" / "Annotations" / "480p"
    pred_dir = tmp_path / "preds"
    for sequence in ("alpha", "beta"):
        for i in range(num_frames):
            save_mask(gt_dir / sequence / f"{i:05d}.png", GT_MASK)
    full = np.ones(SHAPE, bool)
    for i in range(num_frames):
        if i in (0, num_frames - 1):
            mask = full  # first and last frames are not scored: garbage must not matter
        else:
            mask = GT_MASK if i <= 2 else HALF_MASK
        save_mask(pred_dir / "alpha" / f"{i:05d}.png", mask)
    for i in range(1, num_frames - 1):
        save_mask(pred_dir / "beta" / f"{i:05d}.png", GT_MASK)
    return pred_dir, tmp_path / "DAVIS"


def test_davis2016_end_to_end(tmp_path):
    pred_dir, gt_root = make_davis(tmp_path)
    result = evaluate(pred_dir, gt_root, "davis2016")
    assert result.protocol == "davis2016"
    assert result.metric_names == (
        "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "T_mean",
    )
    alpha, beta = result.sequences
    assert (alpha.name, alpha.num_frames) == ("alpha", 4)  # frames 0 and 5 excluded
    assert result.frame_scores["alpha"]["frames"] == ["00001", "00002", "00003", "00004"]
    assert result.frame_scores["alpha"]["J"] == [1.0, 1.0, 0.5, 0.5]
    assert alpha["J_mean"] == 0.75
    assert alpha["J_recall"] == 0.5  # 0.5 is not > 0.5
    assert alpha["J_decay"] == 0.5  # bins [1, 1] ... [0.5, 0.5] for 4 frames
    half_f = boundary_f_measure(HALF_MASK, GT_MASK)
    assert result.frame_scores["alpha"]["F"] == pytest.approx([1.0, 1.0, half_f, half_f])
    assert alpha["F_mean"] == pytest.approx((2 + 2 * half_f) / 4)
    # T: NaN for the first scored frame, 5 x the stability of consecutive predictions.
    t_values = result.frame_scores["alpha"]["T"]
    assert math.isnan(t_values[0]) and len(t_values) == 4
    assert t_values[1] == 0.0 and t_values[3] == 0.0
    assert t_values[2] == pytest.approx(5 * temporal_stability(GT_MASK, HALF_MASK))
    assert alpha["T_mean"] == pytest.approx(np.nanmean(t_values))
    assert (beta["J_mean"], beta["F_mean"], beta["T_mean"], beta["J_decay"]) == (1.0, 1.0, 0.0, 0.0)
    for metric in result.metric_names:
        assert result.overall[metric] == pytest.approx((alpha[metric] + beta[metric]) / 2)
    assert result.overall.num_frames == 8


def test_davis2016_options_and_sequence_list(tmp_path):
    pred_dir, gt_root = make_davis(tmp_path)
    # DAVIS ImageSets lines name frames; the sequence folder is used.
    listing = tmp_path / "val.txt"
    listing.write_text("/JPEGImages/480p/beta/00000.jpg /Annotations/480p/beta/00000.png\n")
    result = evaluate(pred_dir, gt_root / "Annotations" / "480p", "DAVIS", listing, measures=["J"])
    assert [row.name for row in result.sequences] == ["beta"]
    assert result.metric_names == ("J_mean", "J_recall", "J_decay")
    result = evaluate(pred_dir, gt_root, "davis2016", ["alpha", "beta"], t_exclude=["alpha"])
    assert math.isnan(result.row("alpha")["T_mean"])
    assert result.overall["T_mean"] == 0.0  # NaN-ignoring mean over sequences


def test_davis2016_workers_give_the_same_result(tmp_path):
    pred_dir, gt_root = make_davis(tmp_path)
    serial = evaluate(pred_dir, gt_root, "davis2016", measures=["J", "F"])
    parallel = evaluate(pred_dir, gt_root, "davis2016", measures=["J", "F"], workers=2)
    assert serial.to_dict() == parallel.to_dict()


def test_result_writers(tmp_path):
    pred_dir, gt_root = make_davis(tmp_path)
    result = evaluate(pred_dir, gt_root, "davis2016")
    out = tmp_path / "out"
    json_path = result.to_json(out / "davis.json")
    data = json.loads(json_path.read_text())
    assert data["protocol"] == "davis2016"
    assert data["frames"]["alpha"]["T"][0] is None  # NaN -> null
    restored = EvaluationResult.from_json(json_path)
    assert restored.row("alpha")["J_mean"] == 0.75
    assert restored.to_dict() == json.loads(json.dumps(result.to_dict()))

    lines = result.to_csv(out / "davis.csv").read_text().splitlines()
    assert lines[0] == "kind,name,num_frames,J_mean,J_recall,J_decay,F_mean,F_recall,F_decay,T_mean"
    assert lines[1].startswith("sequence,alpha,4,0.75,0.5,0.5,")
    assert lines[-1].startswith("overall,overall,8,")

    table = result.format_table()
    header = ["Sequence", "Frames", "J(M)", "J(O)", "J(D)", "F(M)", "F(O)", "F(D)", "T(M)"]
    assert table.splitlines()[0].split() == header
    assert "alpha" in table and "Overall" in table
    assert str(result) == table

    png = result.plot_per_sequence(out / "davis.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="unknown metric"):
        result.plot_per_sequence(out / "x.png", metrics=["Q_mean"])
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in out.iterdir()) == ["davis.csv", "davis.json", "davis.png"]


def test_davis2016_errors_name_the_file(tmp_path):
    pred_dir, gt_root = make_davis(tmp_path)
    missing = pred_dir / "beta" / "00003.png"
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=str(missing)):
        evaluate(pred_dir, gt_root, "davis2016", ["beta"])

    save_mask(missing, np.zeros((SHAPE[0] + 2, SHAPE[1]), bool))
    with pytest.raises(ValueError, match=f"{missing}.*64x50.*64x48"):
        evaluate(pred_dir, gt_root, "davis2016", ["beta"])

    missing.write_bytes(b"\x89PNG but truncated")
    with pytest.raises(ValueError, match=str(missing)):
        evaluate(pred_dir, gt_root, "davis2016", ["beta"])

    with pytest.raises(FileNotFoundError, match="gamma"):
        evaluate(pred_dir, gt_root, "davis2016", ["gamma"])
    with pytest.raises(FileNotFoundError, match="Annotations"):
        evaluate(pred_dir, tmp_path / "nowhere", "davis2016")
    with pytest.raises(ValueError, match="unknown evaluation protocol"):
        evaluate(pred_dir, gt_root, "segtrack")
    with pytest.raises(ValueError, match="measures"):
        evaluate(pred_dir, gt_root, "davis2016", measures=["Q"])


def test_davis2016_needs_three_frames(tmp_path):
    gt_root = tmp_path / "gt"
    for i in range(2):
        save_mask(gt_root / "short" / f"{i:05d}.png", GT_MASK)
    (tmp_path / "preds").mkdir()
    with pytest.raises(ValueError, match="at least 3"):
        evaluate(tmp_path / "preds", gt_root, "davis2016")
    with pytest.raises(FileNotFoundError, match="prediction folder not found: .*nothing"):
        evaluate(tmp_path / "nothing", gt_root, "davis2016")


# --------------------------------------------------------------------------- FBMS
def test_fbms_scores_only_annotated_frames_and_merges_objects(tmp_path):
    gt_root, pred_dir = tmp_path / "fbms_gt", tmp_path / "fbms_pred"
    labels = np.zeros(SHAPE, np.uint8)
    labels[5:15, 5:15] = 1  # object 1: 100 px
    labels[20:40, 30:60] = 2  # object 2: 600 px
    save_palette(gt_root / "cars1" / "00000.png", labels)
    save_palette(gt_root / "cars1" / "00020.png", labels)
    save_png(gt_root / "dogs01" / "00005.png", labels)  # grey label map: nonzero is foreground
    for i in range(25):  # predictions for every frame; only annotated ones are scored
        save_mask(pred_dir / "cars1" / f"{i:05d}.png", labels > 0 if i != 20 else labels == 2)
    save_mask(pred_dir / "dogs01" / "00005.png", labels == 1)

    result = evaluate(pred_dir, gt_root, "fbms")
    cars, dogs = result.sequences
    assert cars.num_frames == 2 and result.frame_scores["cars1"]["frames"] == ["00000", "00020"]
    assert result.frame_scores["cars1"]["J"] == pytest.approx([1.0, 600 / 700])
    assert cars["J_mean"] == pytest.approx((1 + 600 / 700) / 2)
    assert dogs["J_mean"] == pytest.approx(100 / 700)
    assert result.overall["J_mean"] == pytest.approx((cars["J_mean"] + dogs["J_mean"]) / 2)
    by_frames = evaluate(pred_dir, gt_root, "fbms", average="frames")
    assert by_frames.overall["J_mean"] == pytest.approx((1 + 600 / 700 + 100 / 700) / 3)
    with_f = evaluate(pred_dir, gt_root, "fbms", measures=["J", "F"])
    assert with_f.metric_names == ("J_mean", "F_mean")

    (pred_dir / "cars1" / "00020.png").unlink()
    with pytest.raises(FileNotFoundError, match="00020.png"):
        evaluate(pred_dir, gt_root, "fbms")
    with pytest.raises(ValueError, match="average"):
        evaluate(pred_dir, gt_root, "fbms", average="median")


# --------------------------------------------------------------------------- YouTube-Objects
def test_youtube_objects_per_category(tmp_path):
    gt_root, pred_dir = tmp_path / "yto_gt", tmp_path / "yto_pred"
    gt = box(SHAPE, 10, 10, 20, 20)
    # cat/0001: J = 1 on two frames; cat/0002: J = 0.5 on one frame; dog/0001: J = 0 on one frame.
    layout = {
        "cat/0001": [("00001", gt), ("00011", gt)],
        "cat/0002": [("00003", box(SHAPE, 10, 10, 20, 10))],
        "dog/0001": [("00007", box(SHAPE, 35, 40, 5, 5))],
    }
    for sequence, frames in layout.items():
        for stem, prediction in frames:
            save_mask(gt_root / sequence / f"{stem}.png", gt)
            save_mask(pred_dir / sequence / f"{stem}.png", prediction)
    save_mask(pred_dir / "cat/0001/00002.png", np.zeros(SHAPE, bool))  # unannotated: ignored

    result = evaluate(pred_dir, gt_root, "youtube-objects")
    assert [row.name for row in result.sequences] == ["cat/0001", "cat/0002", "dog/0001"]
    assert [row.name for row in result.categories] == ["cat", "dog"]
    assert result.row("cat/0001")["J_mean"] == 1.0
    assert result.row("cat")["J_mean"] == pytest.approx(0.75)  # mean over its sequences
    assert result.row("cat").num_frames == 3
    assert result.row("dog")["J_mean"] == 0.0
    assert result.overall["J_mean"] == pytest.approx(0.375)  # mean over categories
    by_frames = evaluate(pred_dir, gt_root, "youtube_objects", average="frames")
    assert by_frames.row("cat")["J_mean"] == pytest.approx(2.5 / 3)
    only_dog = evaluate(pred_dir, gt_root, "youtube-objects", ["dog"])
    assert [row.name for row in only_dog.sequences] == ["dog/0001"]
    assert "cat" in result.format_table()
    with pytest.raises(FileNotFoundError, match="horse"):
        evaluate(pred_dir, gt_root, "youtube-objects", ["horse"])


def test_result_row_round_trip():
    row = ResultRow("bear", "sequence", 3, {"J_mean": 0.5, "T_mean": math.nan})
    restored = ResultRow.from_dict(json.loads(json.dumps(row.to_dict())))
    assert restored.name == "bear" and restored["J_mean"] == 0.5 and math.isnan(restored["T_mean"])
    with pytest.raises(KeyError, match="F_mean"):
        row["F_mean"]
    with pytest.raises(ValueError, match="kind"):
        ResultRow("x", "frame", 1, {})


def test_t_exclusions_come_from_db_info_yml(tmp_path):
    from cosnet_tf.cli.main import main
    from cosnet_tf.evaluation import read_db_info, t_exclusions

    pred_dir, gt_root = make_davis(tmp_path)
    included = evaluate(pred_dir, gt_root, "davis2016", ["alpha", "beta"])
    assert not math.isnan(included.row("alpha")["T_mean"])  # no db_info.yml: every sequence has T
    db_info = gt_root / "db_info.yml"
    db_info.write_text(
        "attributes: [OCC]\nsets: [training, test]\nsequences:\n"
        "- attributes: [OCC]\n  name: alpha\n  num_frames: 5\n  set: test\n  eval_t: False\n"
        "- attributes: []\n  name: beta\n  num_frames: 5\n  set: test\n  eval_t: True\n"
    )
    assert t_exclusions(db_info) == {"alpha"} and read_db_info(db_info)["beta"]["set"] == "test"
    # Read from the ground-truth root by default, given as the root or as Annotations/480p ...
    for root in (gt_root, gt_root / "Annotations" / "480p"):
        excluded = evaluate(pred_dir, root, "davis2016", ["alpha", "beta"])
        assert math.isnan(excluded.row("alpha")["T_mean"])
        assert excluded.overall["T_mean"] == excluded.row("beta")["T_mean"]
        assert excluded.row("alpha")["J_mean"] == included.row("alpha")["J_mean"]  # only T changes
    # ... overridden by an explicit list (or none), or by another root's file (a dev root has none).
    assert not math.isnan(evaluate(pred_dir, gt_root, "davis2016", t_exclude=()).row("alpha")["T_mean"])
    elsewhere = tmp_path / "elsewhere.yml"
    db_info.rename(elsewhere)
    assert main(["evaluate", "--pred", str(pred_dir), "--gt", str(gt_root), "--protocol", "davis2016",
                 "--db-info", str(elsewhere), "--out-dir", str(tmp_path / "scores")]) == 0
    scores = json.loads((tmp_path / "scores" / "davis2016.json").read_text())
    alpha_t = next(row for row in scores["sequences"] if row["name"] == "alpha")["values"]["T_mean"]
    assert alpha_t is None or math.isnan(alpha_t)
    broken = tmp_path / "broken.yml"
    broken.write_text("sequences: [1, 2]\n")
    with pytest.raises(ValueError, match="broken.yml"):
        evaluate(pred_dir, gt_root, "davis2016", t_exclude=broken)


# ---------------------------------------------------------------- error regions
def test_error_regions_split_the_wrong_pixels_into_strays_misses_and_outline():
    truth = np.zeros((12, 12), bool)
    truth[1:5, 1:5] = True  # found, drawn one column too far right
    truth[8:11, 1:3] = True  # a second part of the object that nothing covers: a miss
    prediction = np.zeros_like(truth)
    prediction[1:5, 2:6] = True
    prediction[8:10, 8:11] = True  # a region away from the object: a stray
    prediction[6, 7] = True  # touches nothing either, and not the other stray (two cells apart)
    regions = error_regions(prediction, truth)
    assert regions.strays.sum() == 7 and regions.strays[6, 7] and regions.strays[8:10, 8:11].all()
    assert regions.misses.sum() == 6 and regions.misses[8:11, 1:3].all()
    assert regions.outline.sum() == 8  # column 5 (false positives) and column 1 (false negatives)
    # The three are disjoint and together are every wrong pixel.
    parts = np.stack([regions.strays, regions.misses, regions.outline]).astype(int)
    assert (parts.sum(0) <= 1).all()
    np.testing.assert_array_equal(parts.sum(0) == 1, prediction ^ truth)


def test_error_regions_count_a_diagonal_neighbour_as_the_same_region():
    truth = np.zeros((6, 6), bool)
    truth[0:2, 0:2] = True
    prediction = truth.copy()
    prediction[2, 2] = prediction[3, 3] = True  # a thin diagonal limb of the found region
    regions = error_regions(prediction, truth)
    assert not regions.strays.any() and regions.outline.sum() == 2


def test_error_regions_of_a_perfect_and_an_empty_mask():
    truth = np.zeros((5, 5), np.uint8)
    truth[1:3, 1:3] = 255
    perfect = error_regions(truth, truth)
    assert not (perfect.strays.any() or perfect.misses.any() or perfect.outline.any())
    empty = error_regions(np.zeros_like(truth), truth)
    assert empty.misses.sum() == 4 and not empty.strays.any() and not empty.outline.any()


def test_error_regions_refuse_masks_of_different_sizes():
    with pytest.raises(ValueError, match="prediction shape"):
        error_regions(np.zeros((4, 4)), np.zeros((4, 5)))


def _sequence_result(scores, metric="J_mean"):
    rows = tuple(ResultRow(name, "sequence", 5, {metric: value}) for name, value in scores.items())
    overall = ResultRow("overall", "overall", 5 * len(rows), {metric: float(np.nanmean(list(scores.values())))})
    return EvaluationResult("davis2016", (metric,), rows, overall)


def test_paired_difference_of_two_evaluations(tmp_path):
    pred_dir, gt_root = make_davis(tmp_path)
    baseline = evaluate(pred_dir, gt_root, "davis2016")
    # The same masks scored twice: every sequence moves by 0, and so does the interval.
    same = paired_difference(baseline, evaluate(pred_dir, gt_root, "davis2016"), "F_mean")
    assert same.per_sequence == {"alpha": 0.0, "beta": 0.0}
    assert (same.mean, same.interval) == (0.0, (0.0, 0.0))
    # For DAVIS-2016 the mean difference is the difference of the overall rows.
    before = {"a": 0.50, "b": 0.60, "c": 0.70, "d": 0.80, "e": 0.90, "f": 0.40}
    after = {"a": 0.55, "b": 0.58, "c": 0.75, "d": 0.83, "e": 0.86, "f": 0.52}
    difference = paired_difference(_sequence_result(before), _sequence_result(after))
    overall = _sequence_result(after).overall["J_mean"] - _sequence_result(before).overall["J_mean"]
    assert difference.mean == pytest.approx(overall)
    assert difference.per_sequence == pytest.approx({k: after[k] - before[k] for k in before})
    low, high = difference.interval
    # The interval lies inside the range of the per-sequence differences and around the mean,
    # is reproducible for a seed, and widens with the confidence level.
    assert min(difference.per_sequence.values()) <= low < difference.mean < high <= max(difference.per_sequence.values())
    assert paired_difference(_sequence_result(before), _sequence_result(after)).interval == (low, high)
    low99, high99 = paired_difference(_sequence_result(before), _sequence_result(after), confidence=0.99).interval
    assert low99 <= low and high99 >= high and (low99, high99) != (low, high)
    table = difference.format_table()
    assert table.splitlines()[0].startswith("a ") and "+0.050" in table.splitlines()[0]
    assert "95% interval over sequences" in table.splitlines()[-1]


def test_paired_difference_leaves_out_nan_pairs():
    before = _sequence_result({"a": 0.2, "b": math.nan, "c": 0.4}, "T_mean")
    after = _sequence_result({"a": 0.1, "b": 0.3, "c": 0.2}, "T_mean")
    difference = paired_difference(before, after, "T_mean")
    assert difference.per_sequence == pytest.approx({"a": -0.1, "c": -0.2})
    assert difference.mean == pytest.approx(-0.15)


def test_paired_difference_refuses_unmatched_results():
    with pytest.raises(ValueError, match=r"only in the baseline \['c'\], only in the other \['d'\]"):
        paired_difference(_sequence_result({"a": 1.0, "b": 1.0, "c": 1.0}),
                          _sequence_result({"a": 1.0, "b": 1.0, "d": 1.0}))
    with pytest.raises(ValueError, match="at least two sequences"):
        paired_difference(_sequence_result({"a": 1.0}), _sequence_result({"a": 0.5}))
    with pytest.raises(KeyError, match="no metric 'F_mean'"):
        paired_difference(_sequence_result({"a": 1.0, "b": 1.0}), _sequence_result({"a": 1.0, "b": 1.0}), "F_mean")
    with pytest.raises(ValueError, match="confidence"):
        paired_difference(_sequence_result({"a": 1.0, "b": 1.0}), _sequence_result({"a": 1.0, "b": 1.0}), confidence=95)
