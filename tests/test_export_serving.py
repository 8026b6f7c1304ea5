"""SavedModel export, `cosnet serve` (gRPC + REST), the serving clients and `cosnet predict`.

Network use: loopback only (127.0.0.1, ports picked by the OS), every request
with a timeout, a bounded number of requests.
"""

import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

grpc = pytest.importorskip("grpc")
pytest.importorskip("tensorflow_serving.apis.prediction_service_pb2_grpc")

import tensorflow as tf  # noqa: E402

from cosnet_tf.cli.main import main  # noqa: E402
from cosnet_tf.export import SIGNATURE_NAMES, export_saved_model  # noqa: E402
from cosnet_tf.inference import reference_plan  # noqa: E402
from cosnet_tf.layers.resize import resize_bilinear  # noqa: E402
from cosnet_tf.serving import (  # noqa: E402
    GrpcPredictClient,
    ModelServer,
    PredictError,
    RestPredictClient,
    segment_video,
)
from tests.conftest import random_frames, tiny_cosnet  # noqa: E402

# Its module fixtures are costly: the whole file on one xdist worker (pytest.ini: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("export_serving")

INFERENCE_SIZE = (64, 64)
TIMEOUT = 60.0
ATOL = 1e-4  # graph vs eager float32 (oneDNN may pick other kernels)


# ------------------------------------------------------------------ helpers
def keras_features(model, frames):
    frames = np.asarray(frames, np.float32)
    return model.encode(resize_bilinear(frames, INFERENCE_SIZE)).numpy()


def keras_frame_probabilities(model, query_features, reference_features, frame_size, fusion="attention"):
    """[H, W] probabilities as `cosnet segment` gives them: segmented at the model's input size,
    then resized to the frame's."""
    out = model.segment(query_features, reference_features, output_size=INFERENCE_SIZE, fusion=fusion)
    return resize_bilinear(out, frame_size).numpy()[0, :, :, 0]


def keras_segment(model, query, references, fusion="attention"):
    """Reference result of serving_default: [H, W] probabilities from the Keras model."""
    query_features = keras_features(model, query[None])
    reference_features = None if len(references) == 0 else keras_features(model, references)[None]
    return keras_frame_probabilities(model, query_features, reference_features, query.shape[:2], fusion)


def uint8_frames(batch, height, width, seed):
    return random_frames(batch, height, width, seed=seed).astype(np.uint8)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny model, exported through `cosnet export` from a .keras file (version 1)."""
    import keras

    keras.utils.set_random_seed(1234)
    model = tiny_cosnet(inference_size=INFERENCE_SIZE)
    root = tmp_path_factory.mktemp("serving")
    keras_path = root / "tiny.keras"
    model.save(keras_path)
    model_dir = root / "saved_models" / "tiny"
    # No version in --out: the next free version (1) is written.
    assert main(["export", "--model", str(keras_path), "--out", str(model_dir)]) == 0
    assert sorted(os.listdir(model_dir)) == ["1"]
    return model, model_dir, root


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported[1] / "1"))


@pytest.fixture(scope="module")
def server(exported):
    _, model_dir, _ = exported
    srv = ModelServer(model_dir, port=0, rest_port=0, max_workers=8).start()
    try:
        yield srv
    finally:
        srv.stop()
    # Shut down cleanly: no request or REST thread left behind.
    import threading

    assert not [t.name for t in threading.enumerate() if t.name.startswith("cosnet-serve")]


def grpc_client(server, **kwargs):
    return GrpcPredictClient(f"127.0.0.1:{server.port}", "tiny", timeout=TIMEOUT, **kwargs)


# ------------------------------------------------------------------- export
def test_the_file_keeps_to_one_worker(request):
    # Under --dist loadgroup its fixtures are built once, on the group's worker; pytest 9.2 with
    # pytest-xdist 3.8 drops the group silently (pytest-dev/pytest-xdist#1386).
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith("@export_serving")


@pytest.mark.slow  # saved_model_cli in a subprocess
def test_saved_model_cli_lists_exactly_the_three_signatures(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if not os.path.exists(cli):
        pytest.skip("saved_model_cli is not installed beside this Python")
    result = subprocess.run(
        [cli, "show", "--all", "--dir", str(exported[1] / "1")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"signature_def\['([^']+)'\]", result.stdout))
    # __saved_model_init_op is TF's own initialisation entry, in every TF2 SavedModel.
    assert listed - {"__saved_model_init_op"} == set(SIGNATURE_NAMES)
    text = result.stdout
    for name, dtype, shape in [
        ("query", "DT_UINT8", "(-1, -1, 3)"),
        ("references", "DT_UINT8", "(-1, -1, -1, 3)"),
        ("frames", "DT_UINT8", "(-1, -1, -1, 3)"),
        ("query_features", "DT_FLOAT", "(-1, -1, -1, 16)"),
        ("reference_features", "DT_FLOAT", "(-1, -1, -1, 16)"),
        ("output_size", "DT_INT32", "(2)"),
    ]:
        assert re.search(
            rf"inputs\['{name}'\] tensor_info:\s+dtype: {dtype}\s+shape: {re.escape(shape)}", text
        )
    assert len(re.findall(r"outputs\['probabilities'\] tensor_info:\s+dtype: DT_FLOAT", text)) == 2
    assert re.search(r"outputs\['features'\] tensor_info:\s+dtype: DT_FLOAT", text)


@pytest.mark.parametrize("num_references", [0, 3])
def test_serving_default_matches_keras(exported, loaded, num_references):
    model = exported[0]
    query = uint8_frames(1, 48, 56, seed=1)[0]
    references = uint8_frames(num_references, 40, 50, seed=2)  # another size than the query
    sent = references if num_references else np.zeros((0, 1, 1, 3), np.uint8)
    out = loaded.signatures["serving_default"](query=tf.constant(query), references=tf.constant(sent))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (48, 56) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, keras_segment(model, query, references), atol=ATOL)


def test_encode_and_segment_from_features_match_keras(exported, loaded):
    model = exported[0]
    frames = uint8_frames(5, 48, 56, seed=3)
    features = loaded.signatures["encode"](frames=tf.constant(frames))["features"].numpy()
    np.testing.assert_allclose(features, keras_features(model, frames), rtol=1e-4, atol=ATOL)
    # Two queries against the same three references, at the frames' size.
    out = loaded.signatures["segment_from_features"](
        query_features=tf.constant(features[:2]),
        reference_features=tf.constant(features[2:]),
        output_size=tf.constant([48, 56], tf.int32),
    )["probabilities"].numpy()
    assert out.shape == (2, 48, 56)
    for b in range(2):
        expected = keras_frame_probabilities(model, features[b : b + 1], features[None, 2:], (48, 56))
        np.testing.assert_allclose(out[b], expected, atol=ATOL)
        # encode + segment_from_features == serving_default on the same frames
        direct = loaded.signatures["serving_default"](
            query=tf.constant(frames[b]), references=tf.constant(frames[2:])
        )["probabilities"].numpy()
        np.testing.assert_allclose(out[b], direct, atol=ATOL)


@pytest.mark.parametrize("fusion", ["attention", "prediction"])
def test_segment_with_n_known_only_at_run_time_equals_the_static_n(exported, fusion):
    model = exported[0]
    query = keras_features(model, random_frames(2, 32, 32, seed=4))
    refs = keras_features(model, random_frames(7, 32, 32, seed=5))

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, 16], tf.float32),
            tf.TensorSpec([None, None, None, None, 16], tf.float32),
        ]
    )
    def dynamic(q, r):  # one trace for every N: N is a run-time dimension
        return model.segment(q, r, output_size=(40, 36), fusion=fusion)

    for n in range(8):
        static_refs = np.broadcast_to(refs[None, :n], (2,) + refs[:n].shape)
        expected = model.segment(query, static_refs if n else None, output_size=(40, 36), fusion=fusion)
        # Shared references ([1, N, ...]) and per-query references ([B, N, ...]) agree to 1e-5 (float sums reordered).
        np.testing.assert_allclose(dynamic(query, refs[None, :n]).numpy(), expected.numpy(), atol=1e-5)
        np.testing.assert_allclose(dynamic(query, static_refs).numpy(), expected.numpy(), atol=1e-5)
        if n:  # the static loop: the mean over references, written out here
            def predict(summary):
                return model._predict(model.head_a, summary, query, (40, 36), False, False)

            summaries = [model.gate(model.coattention.summarize_query(query, static_refs[:, i])) for i in range(n)]
            written = predict(sum(summaries) / n) if fusion == "attention" else sum(predict(z) for z in summaries) / n
            np.testing.assert_allclose(expected.numpy(), written.numpy(), atol=1e-5)
    assert dynamic.experimental_get_tracing_count() == 1  # N = 0..7 all ran through one graph


def test_export_refuses_to_overwrite_and_checks_layout(exported, tmp_path):
    model, model_dir, _ = exported
    with pytest.raises(ValueError, match="already exists"):
        export_saved_model(model, model_dir / "1")
    with pytest.raises(ValueError, match="positive"):
        export_saved_model(model, tmp_path / "m" / "0")
    with pytest.raises(ValueError, match="fusion"):
        export_saved_model(model, tmp_path / "m" / "1", fusion="nope")


# ------------------------------------------------------------------ serving
def test_video_through_grpc_rest_and_cli_matches_in_process(exported, server, tmp_path):
    from cosnet_tf.data import SyntheticVideoGenerator, load_rgb_image

    model = exported[0]
    root = SyntheticVideoGenerator(num_sequences=1, num_frames=5, image_size=(48, 56), seed=3).write_davis(
        tmp_path / "davis"
    )
    frame_dir = next((root / "JPEGImages" / "480p").iterdir())
    frames = np.stack([load_rgb_image(p) for p in sorted(frame_dir.glob("*.jpg"))])
    # The references cosnet segment picks for each query (never the query itself).
    expected = np.stack([keras_segment(model, frame, frames[reference_plan(5, 2)[q]])
                         for q, frame in enumerate(frames)])

    with grpc_client(server) as client:
        probabilities = segment_video(client, frames, num_references=2, encode_batch_size=2)
        assert sorted(client.metadata()) == sorted(SIGNATURE_NAMES + ("__saved_model_init_op",))
    assert probabilities.shape == (5, 48, 56)
    np.testing.assert_allclose(probabilities, expected, atol=ATOL)

    # REST (JSON) gives what gRPC gives.
    rest = RestPredictClient(f"127.0.0.1:{server.rest_port}", "tiny", timeout=TIMEOUT)
    with grpc_client(server) as client:
        over_grpc = segment_video(client, frames[:3], num_references=1)
    np.testing.assert_allclose(segment_video(rest, frames[:3], num_references=1), over_grpc, atol=1e-6)
    np.testing.assert_allclose(rest.segment(frames[0], frames[reference_plan(5, 2)[0]]), expected[0],
                               atol=ATOL)

    out = tmp_path / "masks"
    argv = [
        "predict",
        str(frame_dir),
        "--server",
        f"127.0.0.1:{server.port}",
        "--model-name",
        "tiny",
        "--out",
        str(out),
        "--refs",
        "2",
        "--save-probabilities",
    ]
    assert main(argv) == 0
    assert sorted(os.listdir(out)) == [f"{i:05d}.png" for i in range(5)] + ["probabilities"]
    written = np.stack([load_rgb_image(out / "probabilities" / f"{i:05d}.png")[..., 0] for i in range(5)])
    assert np.abs(written.astype(int) - np.rint(expected * 255).astype(int)).max() <= 1
    assert (
        main(
            argv[:-1] + ["--rest", "--server", f"127.0.0.1:{server.rest_port}", "--out", str(tmp_path / "b")]
        )
        == 0
    )
    masks = np.stack([load_rgb_image(tmp_path / "b" / f"{i:05d}.png")[..., 0] for i in range(5)])
    decided = np.abs(expected - 0.5) > 1e-4
    assert set(np.unique(masks)) <= {0, 255}
    np.testing.assert_array_equal((masks == 255)[decided], (expected > 0.5)[decided])


def test_served_and_in_process_masks_are_identical(exported, server, tmp_path):
    from cosnet_tf.data import SyntheticVideoGenerator

    model = exported[0]
    root = SyntheticVideoGenerator(num_sequences=1, num_frames=7, image_size=(48, 56), seed=8).write_davis(
        tmp_path / "davis")
    frame_dir = next((root / "JPEGImages" / "480p").iterdir())
    for sampling in ("uniform", "local"):
        served, local = tmp_path / f"served-{sampling}", tmp_path / f"local-{sampling}"
        assert main(["predict", str(frame_dir), "--server", f"127.0.0.1:{server.port}", "--model-name", "tiny",
                     "--out", str(served), "--refs", "3", "--sampling", sampling, "--save-probabilities"]) == 0
        keras_path = exported[2] / "tiny.keras"
        assert main(["segment", str(frame_dir), "--out", str(local), "--model", str(keras_path), "--refs", "3",
                     "--sampling", sampling, "--quiet", "--save-probabilities"]) == 0
        for index in range(7):
            name = f"{index:05d}.png"
            served_probability = np.asarray(Image.open(served / "probabilities" / name)).astype(int)
            local_probability = np.asarray(Image.open(local / "probabilities" / name)).astype(int)
            # Both segment at the model's input size and resize the probabilities to the frame's
            # (`segment_at_frame_size`). The SavedModel's graph and Keras may still order float sums
            # differently (oneDNN picks kernels per machine): probabilities agree to one 8-bit
            # level, on all but a few pixels exactly, and the masks agree wherever the
            # probability is more than that level away from the 0.5 threshold.
            difference = np.abs(served_probability - local_probability)
            assert difference.max() <= 1
            assert (difference > 0).mean() < 0.005
            decided = np.abs(local_probability - 127.5) > 1.5
            # The comparison covers most of the frame: the tiny untrained model leaves few pixels near 0.5.
            assert decided.mean() > 0.5
            np.testing.assert_array_equal(np.asarray(Image.open(served / name))[decided],
                                          np.asarray(Image.open(local / name))[decided])
    # A DAVIS root: the per-sequence layout `cosnet evaluate` reads, as `cosnet segment` writes it.
    assert main(["predict", str(root), "--server", f"127.0.0.1:{server.port}", "--model-name", "tiny",
                 "--out", str(tmp_path / "davis-out"), "--refs", "3", "--quiet"]) == 0
    served = tmp_path / "davis-out" / frame_dir.name
    assert sorted(os.listdir(served)) == [f"{i:05d}.png" for i in range(7)]
    decided = np.abs(np.asarray(Image.open(tmp_path / "local-uniform" / "probabilities" / "00003.png")).astype(int)
                     - 127.5) > 1.5
    np.testing.assert_array_equal(np.asarray(Image.open(served / "00003.png"))[decided],
                                  np.asarray(Image.open(tmp_path / "local-uniform" / "00003.png"))[decided])


def test_predict_reads_a_video_file(server, tmp_path):
    av = pytest.importorskip("av")
    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for frame in uint8_frames(3, 32, 48, seed=10):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "masks"
    argv = ["predict", str(video), "--server", f"127.0.0.1:{server.port}", "--model-name", "tiny"]
    assert main(argv + ["--out", str(out), "--refs", "1"]) == 0
    assert sorted(os.listdir(out)) == ["00000.png", "00001.png", "00002.png"]


def test_32_concurrent_requests_all_succeed(exported, server):
    model = exported[0]
    queries = uint8_frames(4, 40, 48, seed=6)
    references = uint8_frames(2, 40, 48, seed=7)
    expected = [keras_segment(model, q, references) for q in queries]
    with grpc_client(server) as client, concurrent.futures.ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(client.segment, queries[i % 4], references) for i in range(32)]
        results = [job.result(timeout=120) for job in jobs]
    for i, result in enumerate(results):
        np.testing.assert_allclose(result, expected[i % 4], atol=ATOL)


def _expect_error(code, *words, call):
    with pytest.raises(PredictError) as info:
        call()
    assert info.value.code == code, info.value
    for word in words:
        assert word in info.value.message, (word, info.value.message)
    return info.value


def test_malformed_requests_get_tf_serving_errors_and_server_keeps_serving(exported, server):
    model_dir = exported[1]
    frames = uint8_frames(2, 32, 40, seed=8)
    good = {"query": frames[0], "references": frames[1:]}
    target = f"127.0.0.1:{server.port}"
    client = grpc_client(server)
    try:
        _expect_error(
            "NOT_FOUND",
            "nosuchmodel",
            call=lambda: GrpcPredictClient(target, "nosuchmodel", timeout=TIMEOUT).predict(good),
        )
        _expect_error(
            "NOT_FOUND",
            "tiny",
            "7",
            call=lambda: GrpcPredictClient(target, "tiny", version=7, timeout=TIMEOUT).predict(good),
        )
        _expect_error(
            "NOT_FOUND", "nosuchsignature", call=lambda: client.predict(good, "nosuchsignature")
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "Missing but required: {references}",
            call=lambda: client.predict({"query": frames[0]}),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "Sent extra: {extra}",
            call=lambda: client.predict({**good, "extra": frames[0]}),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'query'",
            "uint8",
            "float",
            call=lambda: client.predict({**good, "query": frames[0].astype(np.float32)}),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'query'",
            "rank 3",
            call=lambda: client.predict({**good, "query": frames[:1]}),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'frames'",
            "rank 4",
            call=lambda: client.predict({"frames": frames[0]}, "encode"),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'query_features'",
            "16",
            call=lambda: client.segment_from_features(
                np.zeros((1, 2, 2, 8)), np.zeros((0, 1, 1, 16)), (8, 8)
            ),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'frames'",
            "empty",
            call=lambda: client.predict({"frames": frames[:0]}, "encode"),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'query_features'",
            "empty",
            call=lambda: client.segment_from_features(np.zeros((0, 2, 2, 16)), None, (8, 8)),
        )
        # Checked inside the graph (what the real TF Serving reports too).
        _expect_error(
            "INVALID_ARGUMENT",
            "`output_size`",
            call=lambda: client.segment_from_features(np.zeros((1, 2, 2, 16)), None, (0, 8)),
        )
        rest = RestPredictClient(f"127.0.0.1:{server.rest_port}", "tiny", timeout=TIMEOUT)
        _expect_error(
            "NOT_FOUND",
            "nosuchmodel",
            call=lambda: RestPredictClient(
                f"127.0.0.1:{server.rest_port}", "nosuchmodel", timeout=TIMEOUT
            ).predict(good),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'references'",
            "rank 4",
            call=lambda: rest.predict({**good, "references": frames[1]}),
        )
        _expect_error(
            "INVALID_ARGUMENT",
            "'query'",
            "range of uint8",
            call=lambda: rest.predict({**good, "query": frames[0].astype(np.int32) + 300}),
        )

        # Versions: the latest by default, model_spec.version picks one.
        shutil.copytree(model_dir / "1", model_dir / "3")
        try:
            from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

            channel = grpc.insecure_channel(target)
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "tiny"
            request.model_spec.signature_name = "encode"
            request.inputs["frames"].CopyFrom(tf.make_tensor_proto(frames[:1]))
            assert stub.Predict(request, timeout=TIMEOUT).model_spec.version.value == 3
            request.model_spec.version.value = 1
            response = stub.Predict(request, timeout=TIMEOUT)
            assert response.model_spec.version.value == 1
            assert response.model_spec.signature_name == "encode"
            channel.close()
        finally:
            shutil.rmtree(model_dir / "3")

        # Still serving, with correct results.
        np.testing.assert_allclose(
            client.segment(frames[0], frames[1:]),
            keras_segment(exported[0], frames[0], frames[1:]),
            atol=ATOL,
        )
    finally:
        client.close()


@pytest.mark.slow  # `cosnet serve` in a subprocess
def test_cosnet_serve_cli_serves_and_shuts_down_cleanly(exported):
    """`cosnet serve` in a subprocess: one request over gRPC, then SIGTERM -> exit 0."""
    model_dir = exported[1]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable,
        "-m",
        "cosnet_tf.cli.main",
        "serve",
        "--model-dir",
        str(model_dir),
        "--port",
        "0",
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        port, lines, deadline = None, [], time.monotonic() + 90
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"gRPC on 127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else None
        assert port, "".join(lines)
        with GrpcPredictClient(f"127.0.0.1:{port}", "tiny", timeout=TIMEOUT) as client:
            assert client.encode(uint8_frames(1, 32, 32, seed=9)).shape == (1, 4, 4, 16)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, "".join(lines) + rest
        assert "server stopped" in rest
        with GrpcPredictClient(f"127.0.0.1:{port}", "tiny", timeout=5) as client:
            with pytest.raises(PredictError) as info:
                client.encode(uint8_frames(1, 32, 32, seed=9))
            assert info.value.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
