"""The recurrence benchmark: only recurrence tells the primary object from the distractors."""
import numpy as np
import pytest

from cosnet_tf.data import DavisDataset, RecurrenceVideoGenerator


def _mean_colour(frame, mask):
    return frame[mask].astype(np.float64).mean(axis=0)


def _interior(mask, margin=2):
    """The mask eroded by `margin` pixels: colour means there are free of JPEG/edge blending."""
    inside = mask.copy()
    for _ in range(margin):
        padded = np.pad(inside, 1)
        inside = (padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1]
                  & padded[1:-1, :-2] & padded[1:-1, 2:])
    return inside


@pytest.fixture(scope="module")
def generated():
    generator = RecurrenceVideoGenerator(num_sequences=3, num_frames=8, image_size=(96, 96), seed=5)
    return generator, [generator.render_sequence_with_looks(i) for i in range(3)]


def test_primary_look_constant_and_distractors_new_every_frame(generated):
    _, videos = generated
    for sequence, primary, distractor_looks in videos:
        frames, masks, distractors = sequence.frames, sequence.masks, sequence.distractor_masks
        primary_colours = [_mean_colour(f, _interior(m)) for f, m in zip(frames, masks)]
        spread = np.max(np.linalg.norm(np.array(primary_colours) - np.mean(primary_colours, 0), axis=1))
        # The primary object: one colour in every frame (texture and noise move the mean a little).
        assert spread < 12.0, (sequence.name, spread)
        seen = []
        for t in range(len(frames)):
            present = [d for d in range(distractors.shape[1]) if _interior(distractors[t, d]).sum() > 10]
            assert 1 <= len(present) <= 2, (sequence.name, t)
            for d in present:
                colour = _mean_colour(frames[t], _interior(distractors[t, d]))
                # Measured on the frames: unlike the primary object's look in this frame ...
                assert np.linalg.norm(colour - primary_colours[t]) > 15.0, (sequence.name, t, d)
                # ... and unlike every distractor of every other frame.
                for other_t, other in seen:
                    if other_t != t:
                        assert np.linalg.norm(colour - other) > 6.0, (sequence.name, t, other_t)
                seen.append((t, colour))
        assert len(distractor_looks) == len(frames)
        assert all(look != primary for looks in distractor_looks for look in looks)


def test_masks_are_the_primary_object_only(generated):
    _, videos = generated
    for sequence, _, _ in videos:
        assert sequence.masks.any(axis=(1, 2)).all()
        assert not (sequence.masks[:, None] & sequence.distractor_masks).any()
        # Distractors are as large as the primary object (same size range): no size cue.
        primary_area = sequence.masks.sum(axis=(1, 2)).mean()
        distractor_area = sequence.distractor_masks.sum(axis=(2, 3))
        distractor_area = distractor_area[distractor_area > 0].mean()
        assert 0.4 < distractor_area / primary_area < 2.5


def test_deterministic_for_a_seed(tmp_path):
    a = RecurrenceVideoGenerator(2, 4, (48, 64), seed=11).render_sequence(1)
    b = RecurrenceVideoGenerator(2, 4, (48, 64), seed=11).render_sequence(1)
    c = RecurrenceVideoGenerator(2, 4, (48, 64), seed=12).render_sequence(1)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.frames, c.frames)
    root = RecurrenceVideoGenerator(3, 4, (48, 64), seed=11, num_val_sequences=1).write_davis(tmp_path)
    assert [s.name for s in DavisDataset(root, split="val")] == ["recurrence-002"]
    assert len(DavisDataset(root, split="train")) == 2


def test_rejects_frames_without_distractors():
    with pytest.raises(ValueError, match="distractors_per_frame"):
        RecurrenceVideoGenerator(2, 4, (48, 48), distractors_per_frame=(0, 2))


def test_no_one_frame_rule_picks_the_primary_object():
    """Position and size say nothing about which object is primary.

    The first version of the benchmark kept the draw farthest from the primary
    object for each distractor and painted the primary object last: "the most
    central object" then picked it in 78% of frames (chance 42%), and a
    coattention=None model learned that cue. Each rule below must stay within
    0.1 of picking an object at random.
    """
    generator = RecurrenceVideoGenerator(num_sequences=40, num_frames=8, image_size=(96, 96), seed=3)
    rng = np.random.default_rng(0)
    picks = {"most central": [], "farthest from the others": [], "largest": [], "smallest": []}
    chance = []
    centre = (np.array(generator.image_size) - 1) / 2.0
    for index in range(generator.num_sequences):
        sequence = generator.render_sequence(index)
        for t in range(generator.num_frames):
            objects = [sequence.masks[t]] + [m for m in sequence.distractor_masks[t] if m.any()]
            centroids = np.array([np.argwhere(m).mean(axis=0) for m in objects])
            areas = np.array([m.sum() for m in objects], float)
            separation = np.array([
                min(np.linalg.norm(c - o) for k2, o in enumerate(centroids) if k2 != k)
                for k, c in enumerate(centroids)
            ])
            # Ties (two objects are each other's nearest) are broken at random.
            for name, score in (("most central", -np.linalg.norm(centroids - centre, axis=1)),
                                ("farthest from the others", separation),
                                ("largest", areas), ("smallest", -areas)):
                best = np.flatnonzero(score == score.max())
                picks[name].append(rng.choice(best) == 0)
            chance.append(1.0 / len(objects))
    for name, hits in picks.items():
        assert abs(np.mean(hits) - np.mean(chance)) < 0.1, (name, np.mean(hits), np.mean(chance))
