"""Tests of cosnet_tf.data: readers, tf.data pipelines, augmentation, synthetic data.

All data is generated under ``tmp_path``; only ``test_real_davis_dev_data``
reads the shared DAVIS dev subset and skips when it is absent.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cosnet_tf.data import (
    AugmentationConfig,
    DataFileError,
    DavisDataset,
    SaliencyDataset,
    SyntheticVideoGenerator,
    VideoSequence,
    augment_frame_and_mask,
    load_binary_mask,
    load_frame_and_mask,
    make_composite_dataset,
    make_frame_pair_dataset,
    make_saliency_dataset,
    make_sequence_frame_dataset,
    read_sequence_list,
)

REAL_DAVIS_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016-dev"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def write_video(root: Path, name: str, frames, masks, resolution: str = "480p") -> None:
    """Write frames (uint8 HxWx3) and masks (bool HxW) in the DAVIS layout."""
    frame_dir = root / "JPEGImages" / resolution / name
    mask_dir = root / "Annotations" / resolution / name
    frame_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    for index, (frame, mask) in enumerate(zip(frames, masks)):
        Image.fromarray(frame).save(frame_dir / f"{index:05d}.jpg", quality=100)
        Image.fromarray(mask.astype(np.uint8) * 255).save(mask_dir / f"{index:05d}.png")


# Colour-coded videos: every frame is one flat colour from which the video
# (red channel) and the frame (green channel) can be read back.
CODED_VIDEO_LENGTHS = (4, 3, 5, 1)
CODED_SIZE = (24, 32)


def coded_colour(video: int, frame: int) -> tuple[int, int, int]:
    return 30 + 50 * video, 20 + 45 * frame, 128


def decode_colour(pixels: np.ndarray) -> tuple[int, int]:
    """(video, frame) from the mean colour of an ``[H, W, 3]`` output."""
    red, green, _ = pixels.reshape(-1, 3).mean(axis=0)
    return int(round((red - 30) / 50)), int(round((green - 20) / 45))


@pytest.fixture
def coded_davis(tmp_path) -> Path:
    root = tmp_path / "coded"
    for video, length in enumerate(CODED_VIDEO_LENGTHS):
        frames = [np.full(CODED_SIZE + (3,), coded_colour(video, f), np.uint8) for f in range(length)]
        masks = [np.zeros(CODED_SIZE, bool) for _ in range(length)]
        for mask in masks:
            mask[4:12, 6:20] = True
        write_video(root, f"video-{video}", frames, masks)
    return root


@pytest.fixture(scope="module")
def synthetic_davis(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    SyntheticVideoGenerator(num_sequences=5, num_frames=4, image_size=(48, 64), seed=11).write_davis(root)
    return root


# Zoom-in only (no padding), no colour change: flat colours survive exactly.
NO_COLOUR_CHANGE = AugmentationConfig.geometric_only(scale_range=(1.0, 1.5))


def pair_ids(dataset: tf.data.Dataset) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """One epoch of ((video, frame) of frame_a, (video, frame) of frame_b)."""
    ids = []
    for inputs, _ in dataset:
        for a, b in zip(inputs["frame_a"].numpy(), inputs["frame_b"].numpy()):
            ids.append((decode_colour(a), decode_colour(b)))
    return ids


def coded_pairs(root: Path, seed, batch_size: int = 5) -> tf.data.Dataset:
    return make_frame_pair_dataset(DavisDataset(root), image_size=(16, 16), batch_size=batch_size,
                                   augmentation=NO_COLOUR_CHANGE, seed=seed, drop_remainder=False)


# --------------------------------------------------------------------------
# synthetic generator
# --------------------------------------------------------------------------

def test_synthetic_generator_is_deterministic(tmp_path):
    make = lambda seed: SyntheticVideoGenerator(num_sequences=3, num_frames=4, image_size=(32, 40),
                                                seed=seed)
    first, second, other = make(5).render_sequence(1), make(5).render_sequence(1), make(6).render_sequence(1)
    for field in ("frames", "masks", "distractor_masks"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    assert not np.array_equal(first.frames, other.frames)
    # Sequences have their own random streams: more sequences change none of the others.
    more = SyntheticVideoGenerator(num_sequences=7, num_frames=4, image_size=(32, 40), seed=5)
    np.testing.assert_array_equal(more.render_sequence(1).frames, first.frames)

    root_a, root_b = make(5).write_davis(tmp_path / "a"), make(5).write_davis(tmp_path / "b")
    files_a = sorted(p.relative_to(root_a) for p in root_a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(root_b) for p in root_b.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 3 * 4 * 2 + 2
    for relative in files_a:
        assert (root_a / relative).read_bytes() == (root_b / relative).read_bytes(), relative


def test_synthetic_sequence_properties():
    generator = SyntheticVideoGenerator(num_sequences=4, num_frames=12, image_size=(64, 64), seed=2,
                                        num_distractors=2)
    for index in range(generator.num_sequences):
        sequence = generator.render_sequence(index)
        frames = sequence.frames.astype(np.float32)
        masks, distractors = sequence.masks, sequence.distractor_masks
        # The primary object is in every frame.
        assert masks.any(axis=(1, 2)).all()
        # Distractors are never part of the mask ...
        assert not (masks[:, None] & distractors).any()
        # ... and each one is visible in some frames but not in all.
        presence = sequence.distractor_presence
        assert presence.any(axis=0).all() and not presence.all(axis=0).any(), presence.T
        # Distractors look like the object: near its colour, far from the background's.
        any_distractor = distractors.any(axis=1)
        background = ~masks & ~any_distractor
        object_colour = frames[masks].mean(axis=0)
        distractor_colour = frames[any_distractor].mean(axis=0)
        background_colour = frames[background].mean(axis=0)
        assert np.abs(distractor_colour - object_colour).max() < 25
        assert np.abs(background_colour - object_colour).max() > 40
        # The object moves and the background pans.
        assert not np.array_equal(masks[0], masks[-1])
        still_background = background[0] & background[-1]
        assert np.abs(frames[0] - frames[-1])[still_background].mean() > 8


def test_synthetic_davis_layout_and_speed(tmp_path):
    generator = SyntheticVideoGenerator(num_sequences=10, num_frames=20, image_size=(128, 128), seed=0)
    start = time.perf_counter()
    root = generator.write_davis(tmp_path / "davis")
    elapsed = time.perf_counter() - start
    assert elapsed < 15, f"writing 10x20 frames of 128x128 took {elapsed:.1f} s"  # ~0.5 s normally

    assert sorted(p.name for p in (root / "JPEGImages" / "480p").iterdir()) == generator.sequence_names
    mask = np.asarray(Image.open(root / "Annotations" / "480p" / "synthetic-003" / "00007.png"))
    assert mask.shape == (128, 128) and set(np.unique(mask)) <= {0, 255}
    assert read_sequence_list(root / "ImageSets" / "480p" / "train.txt") == generator.train_sequence_names
    assert DavisDataset(root, split="val").sequence_names == generator.val_sequence_names == [
        "synthetic-008", "synthetic-009"]
    assert DavisDataset(root).num_frames == 200


def test_synthetic_saliency_set(tmp_path):
    generator = SyntheticVideoGenerator(image_size=(40, 48), seed=1)
    image_dir, mask_dir = generator.write_saliency(tmp_path, num_images=3)
    dataset = SaliencyDataset(image_dir, mask_dir)
    assert len(dataset) == 3
    for image_path, mask_path in zip(dataset.image_paths, dataset.mask_paths):
        image, mask = load_frame_and_mask(image_path, mask_path)
        assert image.shape == (40, 48, 3) and 0 < mask.sum() < mask.size


# --------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------

def test_davis_dataset_selection(synthetic_davis, tmp_path):
    everything = DavisDataset(synthetic_davis)
    assert len(everything) == 5 and everything.num_frames == 20
    sequence = everything["synthetic-002"]
    assert isinstance(sequence, VideoSequence) and sequence.has_all_masks
    assert [Path(p).name for p in sequence.frame_paths] == ["00000.jpg", "00001.jpg", "00002.jpg",
                                                            "00003.jpg"]
    assert [Path(p).parent.name for p in sequence.mask_paths] == ["synthetic-002"] * 4

    assert DavisDataset(synthetic_davis, ["synthetic-004", "synthetic-000"]).sequence_names == [
        "synthetic-004", "synthetic-000"]
    assert DavisDataset(synthetic_davis, split="train").sequence_names == [
        f"synthetic-00{i}" for i in range(4)]
    names_file = tmp_path / "mine.txt"
    names_file.write_text("# my split\nsynthetic-001\n\nsynthetic-003  \n")
    assert DavisDataset(synthetic_davis, split_file=names_file).sequence_names == [
        "synthetic-001", "synthetic-003"]

    with pytest.raises(ValueError, match="at most one"):
        DavisDataset(synthetic_davis, ["synthetic-000"], split="train")
    with pytest.raises(FileNotFoundError, match="no-such-video"):
        DavisDataset(synthetic_davis, ["no-such-video"])
    expected_split = synthetic_davis / "ImageSets" / "480p" / "test.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(expected_split))):
        DavisDataset(synthetic_davis, split="test")
    with pytest.raises(KeyError, match="nope"):
        everything["nope"]


def test_davis_dataset_rejects_empty_sequence(tmp_path):
    root = tmp_path / "davis"
    write_video(root, "fine", [np.zeros((8, 8, 3), np.uint8)], [np.zeros((8, 8), bool)])
    empty = root / "JPEGImages" / "480p" / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"'empty' has no frames.*" + re.escape(str(empty))):
        DavisDataset(root)


def test_davis_dataset_reports_missing_mask(tmp_path):
    root = tmp_path / "davis"
    write_video(root, "clip", [np.zeros((8, 8, 3), np.uint8)] * 3, [np.zeros((8, 8), bool)] * 3)
    missing = root / "Annotations" / "480p" / "clip" / "00001.png"
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        DavisDataset(root)

    unannotated = DavisDataset(root, require_masks=False)
    assert unannotated["clip"].mask_paths[1] is None and not unannotated["clip"].has_all_masks
    with pytest.raises(ValueError, match="without masks"):
        make_frame_pair_dataset(unannotated, image_size=(8, 8))
    # Inference on the unannotated video still works, without masks.
    elements = list(make_sequence_frame_dataset(unannotated["clip"]))
    assert len(elements) == 3 and "mask" not in elements[0]


def test_read_sequence_list_davis2016_format(tmp_path):
    split = tmp_path / "train.txt"
    split.write_text("/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png\n"
                     "/JPEGImages/480p/bear/00001.jpg /Annotations/480p/bear/00001.png\n"
                     "/JPEGImages/480p/bmx-bumps/00000.jpg /Annotations/480p/bmx-bumps/00000.png\n")
    assert read_sequence_list(split) == ["bear", "bmx-bumps"]
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="lists no sequences"):
        read_sequence_list(tmp_path / "empty.txt")


def test_saliency_dataset_matching_and_mismatches(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for stem in ("a", "b", "c"):
        Image.new("RGB", (8, 8)).save(images / f"{stem}.jpg")
    for stem in ("a", "b", "d"):
        Image.new("L", (8, 8)).save(masks / f"{stem}.png")
    with pytest.raises(ValueError, match=r"have no mask.*'c\.jpg'.*have no image.*'d\.png'"):
        SaliencyDataset(images, masks)

    (masks / "d.png").unlink()
    Image.new("L", (8, 8)).save(masks / "c.png")
    dataset = SaliencyDataset(images, masks)
    assert dataset.stems == ["a", "b", "c"]
    assert [Path(p).name for p in dataset.mask_paths] == ["a.png", "b.png", "c.png"]

    # MSRA10K keeps images and masks in one folder.
    Image.new("L", (8, 8)).save(images / "a.png")
    with pytest.raises(ValueError, match=r"'b\.jpg'"):
        SaliencyDataset(images, images)


def test_saliency_dataset_from_video_frames():
    annotated = VideoSequence("cows", ("/v/cows/00000.jpg", "/v/cows/00001.jpg"), ("/a/cows/00000.png", None))
    blackswan = VideoSequence("blackswan", ("/v/blackswan/00000.jpg",), ("/a/blackswan/00000.png",))
    stills = SaliencyDataset.from_videos([annotated, blackswan])
    # Frames without a mask are left out; stems keep the video's name.
    assert stills.stems == ["cows/00000", "blackswan/00000"]
    assert stills.image_paths == ["/v/cows/00000.jpg", "/v/blackswan/00000.jpg"]
    assert stills.mask_paths == ["/a/cows/00000.png", "/a/blackswan/00000.png"]
    assert len(stills) == 2 and "2 videos" in repr(stills)
    with pytest.raises(ValueError, match=r"no annotated frame in the videos 'unlabelled'"):
        SaliencyDataset.from_videos([VideoSequence("unlabelled", ("/v/u/0.jpg",), (None,))])
    with pytest.raises(ValueError, match="no videos given"):
        SaliencyDataset.from_videos([])


# --------------------------------------------------------------------------
# pipelines: shapes, dtypes, ranges
# --------------------------------------------------------------------------

def test_frame_pair_pipeline_shapes_dtypes_ranges(synthetic_davis):
    dataset = make_frame_pair_dataset(DavisDataset(synthetic_davis), image_size=(32, 40), batch_size=3,
                                      seed=0)
    inputs_spec, targets_spec = dataset.element_spec
    assert set(inputs_spec) == {"frame_a", "frame_b"} and set(targets_spec) == {"mask_a", "mask_b"}
    for key in ("frame_a", "frame_b"):
        assert inputs_spec[key].shape == (3, 32, 40, 3) and inputs_spec[key].dtype == tf.float32
    for key in ("mask_a", "mask_b"):
        assert targets_spec[key].shape == (3, 32, 40, 1) and targets_spec[key].dtype == tf.float32

    batches = list(dataset)
    assert len(batches) == 20 // 3  # one epoch = each frame once as frame_a, remainder dropped
    for inputs, targets in batches:
        for frame in inputs.values():
            frame = frame.numpy()
            assert frame.min() >= 0.0 and frame.max() <= 255.0 and frame.max() > 1.0
        for mask in targets.values():
            assert set(np.unique(mask.numpy())) <= {0.0, 1.0}
    all_masks = np.concatenate([t["mask_a"].numpy() for _, t in batches])
    assert all_masks.reshape(len(all_masks), -1).max(axis=1).mean() > 0.5  # objects survive cropping


def test_saliency_pipeline_shapes(tmp_path):
    image_dir, mask_dir = SyntheticVideoGenerator(image_size=(40, 48)).write_saliency(tmp_path, 5)
    dataset = make_saliency_dataset(SaliencyDataset(image_dir, mask_dir), image_size=(24, 24),
                                    batch_size=2, seed=3)
    image_spec, mask_spec = dataset.element_spec
    assert image_spec.shape == (2, 24, 24, 3) and mask_spec.shape == (2, 24, 24, 1)
    batches = list(dataset)
    assert len(batches) == 2
    image, mask = batches[0]
    assert image.dtype == tf.float32 and mask.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 255.0
    assert set(np.unique(mask.numpy())) <= {0.0, 1.0}
    plain = make_saliency_dataset(SaliencyDataset(image_dir, mask_dir), image_size=(24, 24),
                                  batch_size=5, augmentation=None, shuffle=False)
    images, _ = next(iter(plain))
    assert images.shape == (5, 24, 24, 3)


def test_sequence_frame_pipeline_is_ordered(coded_davis):
    sequence = DavisDataset(coded_davis)["video-2"]  # 5 frames
    batches = list(make_sequence_frame_dataset(sequence, image_size=(12, 16), batch_size=2))
    assert [int(b["frame"].shape[0]) for b in batches] == [2, 2, 1]
    indices = np.concatenate([b["frame_index"].numpy() for b in batches])
    np.testing.assert_array_equal(indices, np.arange(5))
    decoded = [decode_colour(frame) for b in batches for frame in b["frame"].numpy()]
    assert decoded == [(2, f) for f in range(5)]
    first = batches[0]
    assert first["frame"].shape == (2, 12, 16, 3) and first["frame"].dtype == tf.float32
    np.testing.assert_array_equal(first["original_size"].numpy(), [CODED_SIZE, CODED_SIZE])
    assert first["mask"].shape == (2,) + CODED_SIZE + (1,)  # masks stay at full resolution
    assert float(tf.reduce_sum(first["mask"][0])) == 8 * 14


# --------------------------------------------------------------------------
# pipelines: pairing and seeding
# --------------------------------------------------------------------------

def test_pairs_come_from_one_video_and_are_distinct(coded_davis):
    dataset = coded_pairs(coded_davis, seed=1)
    all_frames = {(v, f) for v, length in enumerate(CODED_VIDEO_LENGTHS) for f in range(length)}
    partners_seen = set()
    for _ in range(6):  # epochs
        ids = pair_ids(dataset)
        assert sorted(a for a, _ in ids) == sorted(all_frames)  # each frame once as frame_a
        for (video_a, frame_a), (video_b, frame_b) in ids:
            assert video_a == video_b
            if CODED_VIDEO_LENGTHS[video_a] > 1:
                assert frame_a != frame_b
            else:
                assert frame_a == frame_b  # single-frame video pairs with itself
            partners_seen.add((video_a, frame_a, frame_b))
    # Partners are not only neighbours: far-apart frames of the 5-frame video occur.
    assert any(v == 2 and abs(a - b) >= 3 for v, a, b in partners_seen)


def test_groups_hold_distinct_frames_of_one_video(coded_davis):
    """references=K: frame_b holds K partners of frame_a from its video, all distinct from it and
    from each other while the video has more than K frames (cycled in shorter ones)."""
    groups = make_frame_pair_dataset(DavisDataset(coded_davis), image_size=(16, 16), batch_size=5,
                                     augmentation=NO_COLOUR_CHANGE, seed=3, drop_remainder=False, references=3)
    frames_spec, masks_spec = groups.element_spec
    assert frames_spec["frame_a"].shape[1:] == (16, 16, 3) and frames_spec["frame_b"].shape[1:] == (3, 16, 16, 3)
    assert masks_spec["mask_b"].shape[1:] == (3, 16, 16, 1)
    seen = []
    for _ in range(3):  # epochs
        for inputs, masks in groups:
            assert masks["mask_b"].shape[1] == 3
            for a, references in zip(inputs["frame_a"].numpy(), inputs["frame_b"].numpy()):
                video, frame = decode_colour(a)
                ids = [decode_colour(reference) for reference in references]
                assert {v for v, _ in ids} == {video}
                partners = [f for _, f in ids]
                length = CODED_VIDEO_LENGTHS[video]
                if length > 3:
                    assert len(set(partners)) == 3 and frame not in partners
                elif length > 1:  # fewer other frames than references: each of them, cycled
                    assert set(partners) == set(range(length)) - {frame}
                else:
                    assert partners == [frame] * 3
                seen.append((video, frame, tuple(partners)))
    assert len(seen) == 3 * sum(CODED_VIDEO_LENGTHS)
    assert len({s for s in seen if s[0] == 2}) > 5  # the 5-frame video's groups differ
    with pytest.raises(ValueError, match="references"):
        make_frame_pair_dataset(DavisDataset(coded_davis), image_size=(16, 16), references=0)


def test_pairs_are_reproducible_and_change_every_epoch(coded_davis):
    first = coded_pairs(coded_davis, seed=42)
    again = coded_pairs(coded_davis, seed=42)
    epochs_first = [pair_ids(first) for _ in range(2)]
    epochs_again = [pair_ids(again) for _ in range(2)]
    assert epochs_first == epochs_again  # same seed -> same pairs, epoch by epoch
    assert epochs_first[0] != epochs_first[1]  # drawn anew each epoch
    assert pair_ids(coded_pairs(coded_davis, seed=43)) != epochs_first[0]

    # Pixels too (augmentation included) are reproduced exactly.
    batch_first = next(iter(coded_pairs(coded_davis, seed=7)))
    batch_again = next(iter(coded_pairs(coded_davis, seed=7)))
    for part in (0, 1):
        for key in batch_first[part]:
            np.testing.assert_array_equal(batch_first[part][key].numpy(), batch_again[part][key].numpy())
    # Unseeded pipelines work too.
    assert len(pair_ids(coded_pairs(coded_davis, seed=None))) == sum(CODED_VIDEO_LENGTHS)


# --------------------------------------------------------------------------
# augmentation
# --------------------------------------------------------------------------

def l_shaped_mask(height: int, width: int, top: int, left: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[top:top + 20, left:left + 8] = True
    mask[top + 12:top + 20, left:left + 22] = True
    return mask


def test_augmentation_keeps_frame_and_mask_aligned(tmp_path):
    # The frame is red exactly where the mask is set and blue elsewhere.
    root = tmp_path / "aligned"
    red, blue = np.array([230, 20, 20], np.uint8), np.array([20, 20, 230], np.uint8)
    masks = [l_shaped_mask(48, 64, top, left) for top, left in ((3, 4), (20, 30), (10, 40), (25, 2))]
    frames = [np.where(mask[..., None], red, blue) for mask in masks]
    write_video(root, "aligned", frames, masks)
    config = AugmentationConfig(scale_range=(0.6, 1.6))  # zoom out and in, flips, colour jitter
    dataset = make_frame_pair_dataset(DavisDataset(root), image_size=(32, 32), batch_size=4,
                                      augmentation=config, seed=5)
    checked = 0
    for _ in range(5):
        for inputs, targets in dataset:
            for key in ("a", "b"):
                frame = inputs["frame_" + key].numpy()
                mask = targets["mask_" + key].numpy()[..., 0]
                redness = frame[..., 0] - frame[..., 2]
                # Skip the blend band at edges and the padding around zoomed-out frames.
                looks_object, looks_background = redness > 60, redness < -60
                assert (mask[looks_object] == 1).mean() > 0.97
                assert (mask[looks_background] == 0).mean() > 0.97
                confident = looks_object | looks_background
                assert confident.mean() > 0.5
                checked += len(frame)
    assert checked == 40


def test_augment_frame_and_mask_flip_and_seed():
    mask = l_shaped_mask(40, 48, 5, 6)
    frame = np.where(mask[..., None], np.full(3, 200, np.uint8), np.full(3, 10, np.uint8))
    frame_t, mask_t = tf.constant(frame), tf.constant(mask[..., None].astype(np.uint8))
    flip_only = AugmentationConfig.geometric_only(scale_range=(1.0, 1.0))
    outcomes = set()
    for seed in range(12):
        out_frame, out_mask = augment_frame_and_mask(frame_t, mask_t, (40, 48), flip_only,
                                                     tf.constant([seed, 0], tf.int64))
        out_mask = out_mask.numpy()[..., 0].astype(bool)
        if np.array_equal(out_mask, mask):
            outcomes.add("kept")
        elif np.array_equal(out_mask, mask[:, ::-1]):
            outcomes.add("flipped")
        else:
            pytest.fail("unit scale must give the mask or its mirror image")
        np.testing.assert_allclose(out_frame.numpy()[..., 0], np.where(out_mask, 200, 10), atol=1e-3)
    assert outcomes == {"kept", "flipped"}

    config = AugmentationConfig()
    seed = tf.constant([3, 4], tf.int64)
    first = augment_frame_and_mask(frame_t, mask_t, (24, 24), config, seed)
    again = augment_frame_and_mask(frame_t, mask_t, (24, 24), config, seed)
    other = augment_frame_and_mask(frame_t, mask_t, (24, 24), config, tf.constant([3, 5], tf.int64))
    np.testing.assert_array_equal(first[0].numpy(), again[0].numpy())
    np.testing.assert_array_equal(first[1].numpy(), again[1].numpy())
    assert not np.array_equal(first[0].numpy(), other[0].numpy())


def test_augmentation_config_validation():
    with pytest.raises(ValueError, match="scale_range"):
        AugmentationConfig(scale_range=(1.5, 1.0))
    with pytest.raises(ValueError, match="hue_delta"):
        AugmentationConfig(hue_delta=0.7)
    with pytest.raises(ValueError, match="degrade_probability"):
        AugmentationConfig(degrade_probability=1.5)
    with pytest.raises(ValueError, match="max_noise_std"):
        AugmentationConfig(max_noise_std=-1.0)
    assert not AugmentationConfig.geometric_only().has_colour_jitter


# --------------------------------------------------------------------------
# decode-time errors name the file
# --------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_jpeg_error_names_the_file(tmp_path, damage):
    root = tmp_path / "davis"
    frames = [np.random.default_rng(i).integers(0, 255, (16, 16, 3), dtype=np.uint8) for i in range(3)]
    write_video(root, "clip", frames, [np.ones((16, 16), bool)] * 3)
    broken = root / "JPEGImages" / "480p" / "clip" / "00001.jpg"
    data = broken.read_bytes()
    broken.write_bytes(b"this is not a jpeg" if damage == "garbage" else data[: len(data) // 2])

    videos = DavisDataset(root)  # cheap checks pass: the file exists
    pairs = make_frame_pair_dataset(videos, image_size=(8, 8), batch_size=3, shuffle=False, seed=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(str(broken))) as caught:
        list(pairs)
    assert "cannot decode image file" in str(caught.value)
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(str(broken))):
        list(make_sequence_frame_dataset(videos["clip"]))


def test_mask_of_another_size_error_names_both_files(tmp_path):
    root = tmp_path / "davis"
    write_video(root, "clip", [np.zeros((16, 20, 3), np.uint8)] * 2, [np.zeros((16, 20), bool)] * 2)
    wrong = root / "Annotations" / "480p" / "clip" / "00001.png"
    Image.new("L", (20, 15)).save(wrong)
    frame = root / "JPEGImages" / "480p" / "clip" / "00001.jpg"

    with pytest.raises(DataFileError, match=re.escape(str(wrong))):
        load_frame_and_mask(frame, wrong)
    pairs = make_frame_pair_dataset(DavisDataset(root), image_size=(8, 8), batch_size=2, seed=0)
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        list(pairs)
    message = str(caught.value)
    assert str(wrong) in message and str(frame) in message and "20x15" in message


def test_mask_decoding_modes(tmp_path):
    palette = Image.fromarray(np.array([[0, 1], [2, 0]], np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    palette.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(load_binary_mask(tmp_path / "palette.png")[..., 0], [[0, 1], [1, 0]])
    Image.fromarray(np.array([[0, 127], [128, 255]], np.uint8)).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(load_binary_mask(tmp_path / "grey.png")[..., 0], [[0, 0], [1, 1]])
    with pytest.raises(DataFileError, match="not found"):
        load_binary_mask(tmp_path / "missing.png")


# --------------------------------------------------------------------------
# real data (optional)
# --------------------------------------------------------------------------

def test_real_davis_dev_data():
    if not REAL_DAVIS_DEV.is_dir():
        pytest.skip(f"DAVIS-2016 dev subset not found at {REAL_DAVIS_DEV}")
    videos = DavisDataset(REAL_DAVIS_DEV)
    assert len(videos) >= 1 and all(sequence.has_all_masks for sequence in videos)
    pairs = make_frame_pair_dataset(videos, image_size=(64, 64), batch_size=2, seed=0)
    for inputs, targets in pairs.take(2):
        assert inputs["frame_a"].shape == (2, 64, 64, 3)
        assert set(np.unique(targets["mask_a"].numpy())) <= {0.0, 1.0}
    first = next(iter(make_sequence_frame_dataset(videos[0], image_size=(64, 64))))
    height, width = (int(v) for v in first["original_size"][0])
    assert first["mask"].shape == (1, height, width, 1)


def test_pair_frames_share_one_colour_jitter_that_changes_across_pairs(tmp_path):
    # A one-frame video pairs its frame with itself; with the geometry fixed, only the colour
    # jitter can tell the two frames of a pair apart.
    root = tmp_path / "one"
    rng = np.random.default_rng(0)
    write_video(root, "one", [rng.integers(40, 200, (32, 32, 3), dtype=np.uint8)],
                [np.zeros((32, 32), bool)])
    config = AugmentationConfig(scale_range=(1.0, 1.0), horizontal_flip=False,
                                brightness_delta=0.2, hue_delta=0.05)
    shared = make_frame_pair_dataset(DavisDataset(root), image_size=(32, 32), batch_size=1,
                                      augmentation=config, seed=3)
    firsts = []
    for _ in range(4):
        inputs, _ = next(iter(shared))
        np.testing.assert_allclose(inputs["frame_a"], inputs["frame_b"], atol=1e-3)
        firsts.append(inputs["frame_a"].numpy())
    assert np.abs(firsts[0] - firsts[1]).max() > 1.0  # a new jitter for every pair (epoch)
    separate = make_frame_pair_dataset(DavisDataset(root), image_size=(32, 32), batch_size=1,
                                       augmentation=config, seed=3, shared_pair_colour=False)
    inputs, _ = next(iter(separate))
    assert np.abs(inputs["frame_a"].numpy() - inputs["frame_b"].numpy()).max() > 1.0


def test_degradation_blurs_and_adds_noise_to_the_frame_alone():
    mask = np.zeros((32, 40), np.uint8)
    mask[:, 20:] = 1
    frame = np.where(mask[..., None].astype(bool), np.uint8(220), np.uint8(30)).repeat(3, axis=2)
    frame_t, mask_t = tf.constant(frame), tf.constant(mask[..., None])
    still = AugmentationConfig.geometric_only(scale_range=(1.0, 1.0), horizontal_flip=False)

    def augment(config, seed):
        out_frame, out_mask = augment_frame_and_mask(frame_t, mask_t, (32, 40), config, tf.constant([seed, 9]))
        np.testing.assert_array_equal(out_mask.numpy()[..., 0], mask)  # the label is unchanged
        return out_frame.numpy()

    np.testing.assert_allclose(augment(still, 0), frame, atol=1e-3)
    blur = dataclasses.replace(still, degrade_probability=1.0, max_blur_sigma=2.0, max_noise_std=0.0)
    blurred = [augment(blur, seed) for seed in range(4)]
    for out in blurred:
        # The step is spread over a few columns; the flat parts and the mean stay.
        assert 30 < out[0, 19, 0] < 220 or 30 < out[0, 20, 0] < 220
        np.testing.assert_allclose(out[:, :12], 30, atol=1e-3)
        np.testing.assert_allclose(out[:, 28:], 220, atol=1e-3)
        assert abs(out.mean() - frame.mean()) < 0.5
    assert np.abs(blurred[0] - blurred[1]).max() > 1.0  # sigma drawn per frame
    noise = dataclasses.replace(still, degrade_probability=1.0, max_blur_sigma=0.0, max_noise_std=10.0)
    residual = augment(noise, 1) - frame
    assert 0.5 < residual.std() <= 10.0 and abs(residual.mean()) < 1.0
    half = dataclasses.replace(blur, degrade_probability=0.5)
    changed = [not np.allclose(augment(half, seed), frame, atol=1e-3) for seed in range(40)]
    assert 10 <= sum(changed) <= 30


def test_degradation_is_drawn_for_each_frame_of_a_pair_on_its_own(tmp_path):
    # A video of 12 copies of one frame: with the geometry and colour fixed, the two frames of a
    # pair differ only where one of them, not both alike, was degraded.
    root = tmp_path / "still"
    frame = np.random.default_rng(0).integers(40, 200, (32, 32, 3), dtype=np.uint8)
    write_video(root, "still", [frame] * 12, [np.zeros((32, 32), bool)] * 12)
    config = AugmentationConfig(scale_range=(1.0, 1.0), horizontal_flip=False, brightness_delta=0.0,
                                contrast_range=None, saturation_range=None, hue_delta=0.0,
                                degrade_probability=0.5)
    dataset = make_frame_pair_dataset(DavisDataset(root), image_size=(32, 32), batch_size=1,
                                      augmentation=config, seed=3)
    same = []
    for _, (inputs, _) in zip(range(12), dataset):
        same.append(bool(np.allclose(inputs["frame_a"], inputs["frame_b"], atol=1e-3)))
    assert 0 < sum(same) < len(same)


# --------------------------------------------------------------------------
# one-frame distractors
# --------------------------------------------------------------------------

def test_paste_object_scales_places_and_clears_the_mask():
    from cosnet_tf.data.distractors import paste_object

    frame, mask = np.zeros((40, 60, 3), "float32"), np.ones((40, 60, 1), "float32")
    source_frame = np.full((30, 30, 3), 250.0, "float32")
    source_mask = np.zeros((30, 30, 1), "float32")
    source_mask[5:15, 10:30] = 1.0  # a 10x20 object
    for seed in range(5):
        pasted, target = (t.numpy() for t in paste_object(frame, mask, source_frame, source_mask,
                                                          [seed, 1], scale=(0.3, 0.7)))
        covered = pasted[..., 0] > 125
        rows, columns = np.nonzero(covered)
        height, width = np.ptp(rows) + 1, np.ptp(columns) + 1
        # The tighter side (here the width: 20 of 60 against 10 of 40) spans 0.3-0.7 of the frame.
        assert 0.3 * 60 - 1 <= width <= 0.7 * 60 + 1 and abs(width / height - 2.0) < 0.25
        # Background where it covers, the rest of the frame and mask untouched.
        np.testing.assert_array_equal(target[..., 0], (~covered).astype("float32"))
        outside = np.ones((40, 60), bool)
        outside[max(rows.min() - 1, 0):rows.max() + 2, max(columns.min() - 1, 0):columns.max() + 2] = False
        np.testing.assert_array_equal(pasted[outside], 0.0)
        again = paste_object(frame, mask, source_frame, source_mask, [seed, 1], scale=(0.3, 0.7))[0]
        np.testing.assert_array_equal(again.numpy(), pasted)  # one seed, one paste
    # A source without an object pastes nothing.
    unchanged = paste_object(frame, mask, source_frame, np.zeros_like(source_mask), [0, 1])
    np.testing.assert_array_equal(unchanged[0].numpy(), frame)
    np.testing.assert_array_equal(unchanged[1].numpy(), mask)
    # As a composite labelled "object", nothing pasted is no target; "union" keeps the frame's own.
    for label, target in (("object", np.zeros_like(mask)), ("union", mask)):
        still = paste_object(frame, mask, source_frame, np.zeros_like(source_mask), [0, 1], label=label)
        np.testing.assert_array_equal(still[0].numpy(), frame)
        np.testing.assert_array_equal(still[1].numpy(), target)


def test_pair_frames_get_distractors_from_other_videos_as_background(coded_davis):
    def pairs(probability):
        return make_frame_pair_dataset(DavisDataset(coded_davis), image_size=(16, 16), batch_size=5,
                                       augmentation=NO_COLOUR_CHANGE, seed=3, drop_remainder=False,
                                       paste_distractors=probability)

    covered_foreground = 0
    for (x_plain, y_plain), (x_pasted, y_pasted) in zip(pairs(0.0), pairs(1.0)):
        for key in ("a", "b"):
            plain, pasted = x_plain["frame_" + key].numpy(), x_pasted["frame_" + key].numpy()
            mask_plain, mask_pasted = y_plain["mask_" + key].numpy(), y_pasted["mask_" + key].numpy()
            assert (mask_pasted <= mask_plain).all()  # a distractor only ever takes foreground away
            for i in range(len(plain)):
                changed = np.abs(pasted[i] - plain[i]).max(axis=-1) > 1.0
                assert changed.any()  # p = 1, and every coded frame has an object
                # The same pair as without distractors (the seeds are their own), with another
                # video's object pasted in: flat colours tell which video it came from.
                own_video = decode_colour(plain[i])[0]
                videos = np.round((pasted[i][changed][:, 0] - 30) / 50).astype(int)
                source_video = np.bincount(videos).argmax()
                assert source_video != own_video
                # Background where the distractor covers more than half of a pixel, else as before.
                own_red, source_red = coded_colour(own_video, 0)[0], coded_colour(source_video, 0)[0]
                cover = (pasted[i][..., 0] - own_red) / (source_red - own_red)
                assert (mask_pasted[i][cover > 0.55] == 0).all()
                np.testing.assert_array_equal(mask_pasted[i][cover < 0.45], mask_plain[i][cover < 0.45])
                covered_foreground += int((mask_plain[i][cover > 0.55] == 1).sum())
    assert covered_foreground > 0  # some distractors landed on the object and took it away
    # Half of the frames get one, about.
    counts = [np.abs(x1[f"frame_{k}"].numpy() - x0[f"frame_{k}"].numpy()).max(axis=(1, 2, 3)) > 1.0
              for (x0, _), (x1, _) in zip(pairs(0.0), pairs(0.5)) for k in "ab"]
    assert 0.2 < np.concatenate(counts).mean() < 0.8


# --------------------------------------------------------------------------
# composite stills
# --------------------------------------------------------------------------

def _composites(root, label, augmentation=None, seed=3):
    return [(image.numpy(), mask.numpy()[..., 0]) for image, mask in make_composite_dataset(
        DavisDataset(root), image_size=CODED_SIZE, batch_size=4, label=label, augmentation=augmentation,
        seed=seed, drop_remainder=False)]


def _paste_cover(image):
    """(own video, source video, share of each pixel the pasted object covers) of a coded composite."""
    videos = np.round((image[..., 0] - 30) / 50).astype(int)
    own = np.bincount(videos.ravel()).argmax()  # the pasted object spans at most 0.7 of a side
    changed = np.abs(image[..., 0] - coded_colour(own, 0)[0]) > 1.0
    source = np.bincount(videos[changed]).argmax()
    own_red, source_red = coded_colour(own, 0)[0], coded_colour(source, 0)[0]
    return own, source, (image[..., 0] - own_red) / (source_red - own_red)


def test_a_composite_is_another_videos_object_and_its_mask_the_pasted_pixels(coded_davis):
    own_object = np.zeros(CODED_SIZE, "float32")
    own_object[4:12, 6:20] = 1.0  # every coded frame's object; no augmentation moves it here
    objects, unions = _composites(coded_davis, "object"), _composites(coded_davis, "union")
    assert sum(len(images) for images, _ in objects) == sum(CODED_VIDEO_LENGTHS)  # each frame once a background
    overlaps = 0
    for (images, masks), (union_images, union_masks) in zip(objects, unions):
        np.testing.assert_array_equal(union_images, images)  # the label changes the mask alone
        for image, mask, union in zip(images, masks, union_masks):
            own, source, cover = _paste_cover(image)
            assert source != own and (cover > 0.55).any()  # every coded frame has an object to paste
            pasted, elsewhere = cover > 0.55, cover < 0.45
            # "object": the pasted pixels and nothing else, the frame's own object included.
            assert (mask[pasted] == 1).all() and (mask[elsewhere] == 0).all()
            # "union": the pasted pixels and what still shows of the frame's own object.
            assert (union[pasted] == 1).all()
            np.testing.assert_array_equal(union[elsewhere], own_object[elsewhere])
            overlaps += int((own_object[elsewhere] == 1).any())
    assert overlaps > 0
    # One seed, the same composites; another seed, others.
    again = _composites(coded_davis, "object")
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(objects, again))
    other = _composites(coded_davis, "object", seed=4)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(objects, other))


def test_composites_are_augmented_and_checked(coded_davis, tmp_path):
    for images, masks in _composites(coded_davis, "object", augmentation=NO_COLOUR_CHANGE):
        for image, mask in zip(images, masks):
            own, source, cover = _paste_cover(image)
            assert source != own and (mask[cover > 0.55] == 1).all() and (mask[cover < 0.45] == 0).all()
    with pytest.raises(ValueError, match="label must be one of"):
        make_composite_dataset(DavisDataset(coded_davis), image_size=(16, 16), label="background")
    # The training setting offers exactly these labels (its module cannot import TensorFlow to read them).
    from cosnet_tf.data import COMPOSITE_LABELS
    from cosnet_tf.training.run_config import TrainConfig

    choices = next(f for f in dataclasses.fields(TrainConfig) if f.name == "composite_stills").metadata["choices"]
    assert choices == ("off", *COMPOSITE_LABELS)
    with pytest.raises(ValueError, match="^scale must satisfy"):
        make_composite_dataset(DavisDataset(coded_davis), image_size=(16, 16), scale=(0.9, 0.1))
    one = tmp_path / "one"
    write_video(one, "only", [np.zeros((16, 16, 3), np.uint8)] * 2, [np.ones((16, 16), bool)] * 2)
    with pytest.raises(ValueError, match="two videos or more"):
        make_composite_dataset(DavisDataset(one), image_size=(16, 16))


def test_distractor_settings_are_checked(coded_davis, tmp_path):
    with pytest.raises(ValueError, match="paste_distractors must be a probability"):
        make_frame_pair_dataset(DavisDataset(coded_davis), image_size=(16, 16), paste_distractors=1.5)
    with pytest.raises(ValueError, match="distractor_scale must satisfy"):
        make_frame_pair_dataset(DavisDataset(coded_davis), image_size=(16, 16), paste_distractors=0.5,
                                distractor_scale=(0.5, 0.2))
    one = tmp_path / "one"
    write_video(one, "only", [np.zeros((16, 16, 3), np.uint8)] * 2, [np.ones((16, 16), bool)] * 2)
    with pytest.raises(ValueError, match="two videos or more"):
        make_frame_pair_dataset(DavisDataset(one), image_size=(16, 16), paste_distractors=0.5)
