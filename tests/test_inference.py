"""Video inference: cached multi-reference segmentation against the authors' pairwise procedure."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cosnet_tf.inference import (
    ArrayFrameSource,
    ImageFrameSource,
    VideoSegmenter,
    reference_plan,
)
from tests.conftest import REORDERED_FLOAT32_ATOL, conv_backbone, tiny_cosnet


def references_of(num_frames, query, num_references, sampling="uniform", rng=None):
    """One query's references, from the video's plan."""
    return reference_plan(num_frames, num_references, sampling, rng)[query]


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(7)
    return tiny_cosnet(backbone=conv_backbone())


def _video(num_frames, height=40, width=56, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


_PAIR_GRAPHS = {}


def _pair_prediction(model, frame_a, frame_b):
    # The Siamese call, traced once per model: eager Keras calls cost ~20x more here.
    if model not in _PAIR_GRAPHS:
        _PAIR_GRAPHS[model] = tf.function(
            lambda a, b: model({"frame_a": a, "frame_b": b})["pred_a"], reduce_retracing=True
        )
    return _PAIR_GRAPHS[model](frame_a, frame_b)


def _pairwise_procedure(model, video, num_references, sampling, input_size=None, seed=0):
    """The authors' test procedure: for each query, run the Siamese pair model on
    (query, reference) for each reference, take `pred_a`, average; frames resized
    to the input size first and the probability resized back."""
    num_frames, height, width = video.shape[:3]
    frames = tf.cast(video, tf.float32)
    if input_size is not None:
        frames = tf.image.resize(frames, input_size, method="bilinear")
    out = []
    for query in range(num_frames):
        predictions = [
            _pair_prediction(model, frames[query : query + 1], frames[ref : ref + 1])
            for ref in references_of(num_frames, query, num_references, sampling, rng=seed)
        ]
        probability = tf.reduce_mean(tf.stack(predictions), axis=0)
        if input_size is not None:
            probability = tf.image.resize(probability, (height, width), method="bilinear")
        out.append(probability[0, :, :, 0].numpy())
    return np.stack(out)


class _Recorder:
    """Wraps a model: records each frame put through `encode` and the frames each
    `segment` call used as references (matched by their features)."""

    def __init__(self, model, video):
        self.model = model
        self.inference_size = getattr(model, "inference_size", None)
        self.video = video
        self.encoded = []
        self.references = []
        self.features = {}

    def _frame_index(self, frame):
        matches = [i for i, f in enumerate(self.video) if np.array_equal(f, frame)]
        assert len(matches) == 1
        return matches[0]

    def encode(self, frames):
        features = self.model.encode(frames)
        for frame, feature in zip(np.asarray(frames), features):
            index = self._frame_index(np.rint(frame).astype(np.uint8))
            self.encoded.append(index)
            self.features[index] = np.asarray(feature)
        return features

    def _feature_index(self, feature):
        matches = [i for i, f in self.features.items() if np.array_equal(f, np.asarray(feature))]
        assert len(matches) == 1
        return matches[0]

    def segment(self, query, references=None, **kwargs):
        used = [] if references is None else [self._feature_index(r) for r in references[0]]
        self.references.append((self._feature_index(query[0]), used))
        return self.model.segment(query, references, **kwargs)


@pytest.mark.parametrize("sampling", ["uniform", "random", "local"])
def test_cached_inference_equals_the_pairwise_siamese_procedure(model, sampling):
    video = _video(7)
    segmenter = VideoSegmenter(model, num_references=3, sampling=sampling, fusion="prediction",
                               batch_size=2, seed=3)
    cached = segmenter.segment(video)
    expected = _pairwise_procedure(model, video, 3, sampling, seed=3)
    assert cached.shape == (7, 40, 56) and cached.dtype == np.float32
    np.testing.assert_allclose(cached, expected, atol=2e-5)
    assert segmenter.last_run["encoded"] == 7


def test_cached_inference_resizes_like_the_pairwise_procedure(model):
    video = _video(5)
    segmenter = VideoSegmenter(model, num_references=2, fusion="prediction", input_size=(32, 48))
    expected = _pairwise_procedure(model, video, 2, "uniform", input_size=(32, 48))
    np.testing.assert_allclose(segmenter.segment(video), expected, atol=2e-5)


def test_input_size_defaults_to_the_models_inference_size():
    model = tiny_cosnet(backbone=conv_backbone(), inference_size=(32, 32))
    segmenter = VideoSegmenter(model, num_references=1)
    assert segmenter.segment(_video(3)).shape == (3, 40, 56)
    assert segmenter.last_run["input_size"] == (32, 32)
    segmenter = VideoSegmenter(model, num_references=1, input_size=(48, 64))
    segmenter.segment(_video(2))
    assert segmenter.last_run["input_size"] == (48, 64)


def test_sampling_strategies_pick_the_frames_they_name():
    # Global uniform: the centres of N equal segments, the same set for every
    # query that is not in it; a member swaps itself for its nearest frame.
    base = [2, 7, 12, 17]  # int((k + 0.5) * 20 / 4)
    for query in range(20):
        refs = references_of(20, query, 4, "uniform")
        assert query not in refs and len(set(refs)) == 4
        if query not in base:
            assert refs == base
        else:
            assert sorted(set(base) - {query}) == sorted(set(refs) - {query + 1})
    # Global random: drawn once per video (same set for every query not in
    # it), reproducible from the seed, different for another seed.
    sets = [references_of(50, q, 5, "random", rng=11) for q in range(50)]
    common = max(sets, key=sets.count)
    assert sets.count(common) == 45 and len(set(common)) == 5
    for query, refs in enumerate(sets):
        assert query not in refs and len(set(refs)) == 5
        assert len(set(refs) & set(common)) >= 4
    assert sets == [references_of(50, q, 5, "random", rng=11) for q in range(50)]
    assert references_of(50, 0, 5, "random", rng=12) != sets[0]
    generator = np.random.default_rng(5)
    drawn = [references_of(50, q, 5, "random", rng=generator) for q in range(50)]
    assert drawn.count(max(drawn, key=drawn.count)) == 45
    assert generator.random() == np.random.default_rng(5).random()  # copied, not advanced
    # Local consecutive: the N nearest frames, clipped at the ends.
    assert references_of(20, 10, 4, "local") == [8, 9, 11, 12]
    assert references_of(20, 10, 3, "local") == [8, 9, 11]
    assert references_of(20, 0, 4, "local") == [1, 2, 3, 4]
    assert references_of(20, 19, 4, "local") == [15, 16, 17, 18]
    assert references_of(20, 1, 4, "local") == [0, 2, 3, 4]
    # Short videos: every other frame; one frame: itself; N = 0: none.
    for sampling in ("uniform", "random", "local"):
        assert references_of(4, 2, 5, sampling) == [0, 1, 3]
        assert references_of(1, 0, 5, sampling) == [0]
        assert references_of(9, 4, 0, sampling) == []
        assert len(reference_plan(30, 4, sampling, rng=2)) == 30
    with pytest.raises(ValueError, match="sampling"):
        reference_plan(10, 2, "nearest")
    with pytest.raises(ValueError, match="num_references"):
        reference_plan(10, -1, "local")
    with pytest.raises(TypeError, match="rng"):
        reference_plan(10, 2, "random", rng="seven")


@pytest.mark.parametrize("sampling", ["uniform", "random", "local"])
def test_the_segmenter_uses_the_frames_the_strategy_names_and_encodes_each_once(model, sampling):
    video = _video(11, 24, 32, seed=1)
    recorder = _Recorder(model, video)
    segmenter = VideoSegmenter(recorder, num_references=3, sampling=sampling, batch_size=2,
                               seed=5, compile=False)
    segmenter.segment(video)
    # Every frame went through the backbone exactly once.
    assert sorted(recorder.encoded) == list(range(11))
    # Each query was segmented from its own features and the frames the strategy names.
    assert recorder.references == [
        (query, references_of(11, query, 3, sampling, rng=5)) for query in range(11)
    ]


@pytest.mark.parametrize("sampling", ["uniform", "random", "local"])
def test_memory_stays_bounded_on_a_long_video(sampling):
    class Fake:
        """A model with the COSNet interface and no cost, to stream 400 frames."""

        inference_size = None
        encoded = 0

        def encode(self, frames):
            Fake.encoded += int(frames.shape[0])
            return tf.reduce_mean(frames, axis=(1, 2), keepdims=True)

        def segment(self, query, references=None, output_size=None, fusion="attention"):
            return tf.zeros((1, *output_size, 1))

    class CountingSource(ArrayFrameSource):
        decoded = 0

        def _read(self, index):
            CountingSource.decoded += 1
            return super()._read(index)

    num_references, batch_size = 5, 4
    video = np.zeros((400, 8, 8, 3), np.uint8)
    source = CountingSource(video)
    segmenter = VideoSegmenter(Fake(), num_references=num_references, sampling=sampling,
                               batch_size=batch_size, compile=False)
    seen = [index for index, _ in segmenter.iter_segment(source)]
    assert seen == list(range(400))
    assert Fake.encoded == 400 == segmenter.last_run["encoded"]
    # At most the global set and its spares (2N), the N frames behind a local
    # query, and the streaming window ahead of the query (N + 2 batches).
    assert segmenter.last_run["max_cached"] <= 3 * num_references + 2 * batch_size
    # Global references are read once up front, then every frame in order.
    assert CountingSource.decoded <= 400 + 2 * num_references


def test_attention_fusion_differs_from_prediction_fusion(model):
    video = _video(6)
    attention = VideoSegmenter(model, num_references=3, fusion="attention").segment(video)
    prediction = VideoSegmenter(model, num_references=3, fusion="prediction").segment(video)
    assert np.abs(attention - prediction).max() > 1e-3
    # With one reference both fusions are the same computation.
    one_a = VideoSegmenter(model, num_references=1, fusion="attention").segment(video)
    one_p = VideoSegmenter(model, num_references=1, fusion="prediction").segment(video)
    np.testing.assert_allclose(one_a, one_p, atol=2e-5)


def test_no_references_is_the_frame_by_frame_baseline(model):
    video = _video(4)
    recorder = _Recorder(model, video)
    probabilities = VideoSegmenter(recorder, num_references=0, compile=False).segment(video)
    assert sorted(recorder.encoded) == [0, 1, 2, 3]
    assert recorder.references == [(q, []) for q in range(4)]
    for query in range(4):
        alone = model.segment(model.encode(video[query : query + 1].astype("float32")), None,
                              output_size=(40, 56))
        np.testing.assert_allclose(probabilities[query], np.asarray(alone)[0, :, :, 0], atol=2e-5)
    # Co-attention changes the result once there is a reference.
    with_refs = VideoSegmenter(model, num_references=2).segment(video)
    assert np.abs(with_refs - probabilities).max() > 1e-3


def test_crf_refines_each_frame_with_its_own_image(model):
    video = _video(3)
    seen = []

    def crf(frame, probability):
        seen.append((frame.copy(), probability.shape))
        return 1.0 - probability

    plain = VideoSegmenter(model, num_references=1).segment(video)
    refined = VideoSegmenter(model, num_references=1, crf=crf).segment(video)
    np.testing.assert_allclose(refined, 1.0 - plain, atol=1e-6)
    assert [shape for _, shape in seen] == [(40, 56)] * 3
    assert all(np.array_equal(frame, video[i]) for i, (frame, _) in enumerate(seen))


def test_crf_in_worker_processes_equals_crf_in_process(model):
    from cosnet_tf.postprocessing import DenseCRF

    video = _video(5)
    crf = DenseCRF(iterations=3)
    inline = VideoSegmenter(model, num_references=2, crf=crf).segment(video)
    pooled = VideoSegmenter(model, num_references=2, crf=crf, crf_workers=2).segment(video)
    np.testing.assert_array_equal(inline, pooled)
    plain = VideoSegmenter(model, num_references=2).segment(video)
    assert np.abs(inline - plain).max() > 1e-3


def test_image_paths_and_folders_segment_like_arrays(model, tmp_path):
    from PIL import Image

    video = _video(4, 24, 32)
    for index, frame in enumerate(video):
        Image.fromarray(frame).save(tmp_path / f"f{index}.png")
    segmenter = VideoSegmenter(model, num_references=2)
    expected = segmenter.segment(video)
    paths = [str(tmp_path / f"f{index}.png") for index in range(4)]
    np.testing.assert_allclose(segmenter.segment(paths), expected, atol=1e-6)
    np.testing.assert_allclose(segmenter.segment(str(tmp_path)), expected, atol=1e-6)
    assert isinstance(ImageFrameSource.from_folder(tmp_path), ImageFrameSource)


def test_bad_arguments_are_rejected(model):
    for kwargs, match in [
        (dict(num_references=-1), "num_references"),
        (dict(sampling="nearest"), "sampling"),
        (dict(fusion="max"), "fusion"),
        (dict(batch_size=0), "batch_size"),
        (dict(input_size=(0, 10)), "input_size"),
        (dict(threshold=2.0), "threshold"),
        (dict(crf_workers=0), "crf_workers"),
    ]:
        with pytest.raises(ValueError, match=match):
            VideoSegmenter(model, **kwargs)


# ------------------------------------------------ encoded videos, pooled references
@pytest.mark.parametrize("refs, sampling, fusion, pool", [
    (2, "local", "attention", 1), (3, "random", "prediction", 1), (2, "uniform", "attention", 2),
])
def test_segment_encoded_equals_segment(model, refs, sampling, fusion, pool):
    video = _video(7)
    segmenter = VideoSegmenter(model, refs, sampling, fusion, input_size=(32, 48), reference_pool=pool)
    encoded = segmenter.encode_video(video)
    assert encoded.features.shape[0] == 7 and encoded.frame_size == (40, 56)
    np.testing.assert_allclose(
        segmenter.segment_encoded(encoded), segmenter.segment(video), atol=REORDERED_FLOAT32_ATOL
    )


def test_reference_pool_attends_to_pooled_reference_features(model):
    video = _video(4)
    segmenter = VideoSegmenter(model, 3, "uniform", input_size=(64, 64), reference_pool=2)
    probabilities = segmenter.segment(video)
    features = model.encode(tf.cast(tf.image.resize(video.astype("float32"), (64, 64)), tf.float32))
    assert features.shape[1:3] == (4, 4)
    for query, references in enumerate(segmenter.reference_plan(4)):
        pooled = tf.nn.avg_pool2d(tf.gather(features, references), 2, 2, "SAME")[None]  # [1, 3, 2, 2, C]
        expected = model.segment(features[query : query + 1], pooled, output_size=(64, 64))
        expected = tf.image.resize(expected, (40, 56))[0, :, :, 0]
        np.testing.assert_allclose(probabilities[query], expected, atol=REORDERED_FLOAT32_ATOL)
    exact = VideoSegmenter(model, 3, "uniform", input_size=(64, 64)).segment(video)
    assert np.abs(exact - probabilities).max() > 1e-2  # pooling does change the result (0.34 here)


@pytest.mark.parametrize("value", [0, -2, 1.5, True])
def test_reference_pool_must_be_a_positive_integer(model, value):
    with pytest.raises(ValueError, match="reference_pool must be an integer >= 1"):
        VideoSegmenter(model, 2, reference_pool=value)


def test_encode_video_rejects_an_empty_video(model):
    with pytest.raises(ValueError, match="no frames"):
        VideoSegmenter(model).encode_video(np.zeros((0, 8, 8, 3), np.uint8))


def test_segmenters_of_one_model_share_its_compiled_functions(model, tmp_path):
    video = _video(3)
    VideoSegmenter(model, 2, "uniform", input_size=(32, 32)).segment(video)
    functions = dict(model.inference_graphs._functions)
    assert any(key[0] == "encode" for key in functions) and any(key[0] == "segment" for key in functions)
    VideoSegmenter(model, 2, "local", input_size=(32, 32)).segment(video)  # another segmenter, same calls
    assert model.inference_graphs._functions == functions
    # Kept with the model, never saved with it.
    path = str(tmp_path / "m.keras")
    model.save(path)
    assert len(keras.saving.load_model(path).inference_graphs) == 0
