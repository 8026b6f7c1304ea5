"""The distractor check's composites: deterministic, where expected, never one object twice in a row."""
import numpy as np
import pytest

from tests.conftest import REPO_ROOT, load_script


@pytest.fixture(scope="module")
def check():
    return load_script(REPO_ROOT / "benchmarks" / "distractor_check.py")


class SquareObjects:
    """Three videos; video v's object is a 10x10 square of value 50 * (v + 1) in a 20x20 frame."""

    def __len__(self):
        return 3

    def draw(self, video, rng):
        frame = np.zeros((20, 20, 3), np.uint8)
        mask = np.zeros((20, 20), np.float32)
        frame[5:15, 5:15], mask[5:15, 5:15] = 50 * (video + 1), 1.0
        return frame, mask


def composite(check, seed):
    frames = np.full((9, 40, 60, 3), 7, np.uint8)
    masks = np.zeros((9, 40, 60), np.uint8)
    masks[:, 10:30, 20:40] = 255  # the primary object
    return frames, masks, check.composite_sequence(frames, masks, SquareObjects(), seed)


def test_composites_are_deterministic_for_a_seed(check):
    _, _, (frames_a, masks_a, sources_a) = composite(check, [0, 1])
    _, _, (frames_b, masks_b, sources_b) = composite(check, [0, 1])
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(masks_a, masks_b)
    assert sources_a == sources_b
    _, _, (frames_c, _, _) = composite(check, [1, 1])
    assert not np.array_equal(frames_a, frames_c)


def test_every_other_frame_gets_one_object_never_the_same_twice_in_a_row(check):
    frames, masks, (pasted, truth, sources) = composite(check, [0, 2])
    assert [s is None for s in sources] == [i % 2 == 0 for i in range(9)]
    used = [s for s in sources if s is not None]
    assert all(a != b for a, b in zip(used, used[1:]))
    assert sorted(used[:3]) == [0, 1, 2]  # one round uses every video once
    for index, source in enumerate(sources):
        changed = np.any(pasted[index] != frames[index], axis=-1)
        if source is None:
            assert not changed.any() and np.array_equal(truth[index], masks[index] > 0)
            continue
        # The pasted region: one solid rectangle of the source's colour, 30-70% of the frame's height.
        rows, columns = np.nonzero(changed)
        box = pasted[index, rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
        assert np.all(box == 50 * (source + 1))
        assert 0.3 * 40 - 1 <= rows.max() + 1 - rows.min() <= 0.7 * 40 + 1
        # The ground truth stays the primary object, minus the pixels the paste covers.
        np.testing.assert_array_equal(truth[index], (masks[index] > 0) & ~changed)


def test_source_order_needs_two_videos(check):
    with pytest.raises(ValueError, match="2 videos"):
        check.source_order(3, 1, np.random.default_rng(0))
    order = check.source_order(100, 2, np.random.default_rng(0))
    assert all(a != b for a, b in zip(order, order[1:]))
