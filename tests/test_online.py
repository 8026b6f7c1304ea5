"""Online segmentation: frames segmented as they arrive, references from the past, a bounded memory."""
import io
import os
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
from PIL import Image

from cosnet_tf import segment_video
from cosnet_tf.cli.main import main
from cosnet_tf.data import DataFileError
from cosnet_tf.inference import OnlineReferenceStore, OnlineSegmenter, online_reference_plan
from tests.conftest import REORDERED_FLOAT32_ATOL, REPO_ROOT, conv_backbone, tiny_cosnet, write_video

SIZE = (32, 48)


def _frames(count, seed=0):
    # A bright square drifting over noise: a stream with an object that recurs.
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 80, (count, *SIZE, 3), dtype=np.uint8)
    for index, frame in enumerate(frames):
        left = index % (SIZE[1] - 12)
        frame[10:22, left:left + 12] = 230
    return frames


@pytest.fixture(scope="module")
def model():
    return tiny_cosnet(backbone=conv_backbone())


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("online") / "tiny.keras"
    model.save(path)
    return str(path)


def _read_mask(path):
    with Image.open(path) as image:
        image.load()
        return np.asarray(image)


def _feed_slowly(write, frames, mask_folder, alive, stderr):
    """Writes frames one by one; at frames 0 and 20, waits for that frame's mask with the rest unsent."""
    def wait_for_mask(index, timeout):
        deadline = time.monotonic() + timeout
        while not (mask_folder / f"{index:05d}.png").exists():
            assert alive(), stderr()
            assert time.monotonic() < deadline, f"no mask {index} after {timeout} s with its frame sent"
            time.sleep(0.05)

    for index, frame in enumerate(frames):
        write(frame.tobytes())
        if index in (0, 20):
            # The pipe stays open with the frames after it unsent: its mask must come anyway.
            wait_for_mask(index, timeout=120 if index == 0 else 30)
            assert not (mask_folder / f"{index + 1:05d}.png").exists()
        time.sleep(0.01)


def test_a_piped_stream_gets_its_masks_as_frames_arrive(model_path, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=os.fdopen(read_end, "rb")))
    result = {}
    argv = ["segment", "-", "--online", "--stdin-size", *map(str, SIZE), "--out", str(out), "--model", model_path,
            "--refs", "3", "--quiet"]
    runner = threading.Thread(target=lambda: result.update(code=main(argv)), daemon=True)
    runner.start()
    with os.fdopen(write_end, "wb", buffering=0) as pipe:
        _feed_slowly(pipe.write, _frames(40), out, runner.is_alive, lambda: capsys.readouterr().err)
    runner.join(timeout=120)
    assert result == {"code": 0}, capsys.readouterr().err
    assert sorted(os.listdir(out)) == [f"{index:05d}.png" for index in range(40)]  # nothing partial left
    assert _read_mask(out / "00039.png").shape == SIZE
    assert "segmented 40 frames" in capsys.readouterr().out


@pytest.mark.slow
def test_the_cli_segments_stdin_as_frames_arrive(model_path, tmp_path):
    # The same through a real `cosnet` process (slow: the process loads TensorFlow).
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cosnet_cli", "segment", "-", "--online", "--stdin-size", *map(str, SIZE),
               "--out", str(out), "--model", model_path, "--refs", "3", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    stdout, stderr = open(tmp_path / "stdout", "w+b"), open(tmp_path / "stderr", "w+b")
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, cwd=REPO_ROOT, env=env)

    def output(stream):
        stream.seek(0)
        return stream.read().decode()

    def write(data):
        process.stdin.write(data)
        process.stdin.flush()

    try:
        _feed_slowly(write, _frames(40), out, lambda: process.poll() is None, lambda: output(stderr))
        process.stdin.close()
        process.wait(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, output(stderr)
    assert sorted(os.listdir(out)) == [f"{index:05d}.png" for index in range(40)]
    assert "N=3 online" in output(stdout)


def test_references_come_only_from_the_past_and_the_store_stays_within_its_limit(model, monkeypatch):
    segmenter = OnlineSegmenter(model, num_references=3, stdin_size=SIZE)
    used, sizes = [], []
    new_store = segmenter.new_store

    def recording_store():
        store = new_store()
        references, add = store.references, store.add

        def record_references(query, features):
            used.append((query, store.reference_indices(query)))
            return references(query, features)

        def record_add(index, features):
            dropped = add(index, features)
            sizes.append(len(store))
            return dropped

        store.references, store.add = record_references, record_add
        return store

    monkeypatch.setattr(segmenter, "new_store", recording_store)
    stream = io.BytesIO(_frames(40).tobytes())
    assert [index for index, _ in segmenter.iter_segment(stream)] == list(range(40))
    assert [query for query, _ in used] == list(range(40))
    assert used[0] == (0, [0])  # no past yet: the frame is its own reference, as offline
    for query, references in used[1:]:
        assert references and all(index < query for index in references), (query, references)
        assert len(references) == min(3, query) and query - 1 in references
    assert max(sizes) <= segmenter.last_run["limit"] == 5
    assert segmenter.last_run["max_cached"] == max(sizes) and segmenter.last_run["frames"] == 40


def test_the_memory_stays_bounded_and_spread_over_the_whole_past_on_a_long_stream():
    store = OnlineReferenceStore(5, recent=1)
    for index in range(5000):
        references = store.reference_indices(index)
        if index > 100:
            assert references[-1] == index - 1 and len(references) == 5
            # Global context: the references reach back over the whole stream, not only recent frames.
            assert references[0] < index / 4 and references[-2] > index / 2, (index, references)
        store.add(index, index)
        assert len(store) <= store.limit == 9
    assert 0 in store


def test_with_a_lag_each_mask_waits_for_later_frames_and_may_use_them(model):
    segmenter = OnlineSegmenter(model, num_references=3, lag=4)
    video = _frames(12)
    read = []

    def arriving():
        for frame in video:
            read.append(len(read))
            yield frame

    yielded = [(index, len(read)) for index, _ in segmenter.iter_segment(arriving())]
    # Frame t is segmented once frame t + 4 has been read (or the stream has ended).
    assert yielded == [(index, min(index + 5, 12)) for index in range(12)]
    plan = segmenter.reference_plan(12)
    assert plan == online_reference_plan(12, 3, lag=4)
    for query, references in enumerate(plan):
        assert query not in references and max(references) <= min(query + 4, 11), (query, references)
    assert any(max(references) > query for query, references in enumerate(plan))  # later frames do serve
    # The store's 5 feature maps at most, and the frames that wait: some of those the store has dropped.
    assert segmenter.last_run["limit"] == 5 + 4 and 5 < segmenter.last_run["max_cached"] <= 9
    # The same masks as the whole-video loop given the lagged plan.
    np.testing.assert_allclose(segmenter.segment(video), segmenter.segment_encoded(segmenter.encode_video(video)),
                               atol=REORDERED_FLOAT32_ATOL)
    with pytest.raises(ValueError, match="lag must be an integer >= 0"):
        OnlineSegmenter(model, lag=-1)


def test_a_short_stream_counts_every_feature_map_held(model):
    segmenter = OnlineSegmenter(model, num_references=3)  # holds up to 5: three frames are all kept
    assert len(list(segmenter.iter_segment(iter(_frames(3))))) == 3
    assert segmenter.last_run["max_cached"] == 3


def test_online_masks_equal_the_offline_loop_given_the_online_plan(model):
    # The online loop and the whole-video loop share the core's segment call (Eq. 13): same plan, same masks.
    video = _frames(12)
    segmenter = OnlineSegmenter(model, num_references=3)
    online = segmenter.segment(video)
    offline = segmenter.segment_encoded(segmenter.encode_video(video))
    np.testing.assert_allclose(online, offline, atol=REORDERED_FLOAT32_ATOL)
    assert segmenter.reference_plan(12) == online_reference_plan(12, 3)
    assert segment_video(video, model, num_references=3, online=True).shape == (12, *SIZE)


@pytest.mark.parametrize("lag", [0, 2])
def test_ctrl_c_ends_the_run_with_every_written_file_complete(model_path, tmp_path, monkeypatch, capsys, lag):
    from cosnet_tf.inference import ImageFrameSource

    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(_frames(10)):
        Image.fromarray(frame).save(folder / f"{index:05d}.png")
    read = ImageFrameSource._read

    def interrupted_read(self, index):
        if index == 6:
            raise KeyboardInterrupt
        return read(self, index)

    monkeypatch.setattr(ImageFrameSource, "_read", interrupted_read)
    out = tmp_path / "out"
    assert main(["segment", str(folder), "--online", "--out", str(out), "--model", model_path, "--refs", "2",
                 "--overlay", "--quiet", "--online-lag", str(lag)]) == 0
    # Every frame read before the stop gets its mask, those still waiting on a lag too.
    assert sorted(p.name for p in out.glob("*.png")) == [f"{index:05d}.png" for index in range(6)]
    assert all(_read_mask(path).shape == SIZE for path in out.glob("*.png"))
    import av

    with av.open(str(out / "overlays" / "frames.mp4")) as container:  # finished, not discarded
        assert sum(1 for _ in container.decode(video=0)) == 6
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
    assert "interrupted: 6 frame(s)" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["stdin without --online", "no --stdin-size", "sampling", "lag without --online"])
def test_bad_online_inputs_are_refused_clearly(model_path, tmp_path, capsys, case):
    argv = ["segment", "-", "--out", str(tmp_path), "--model", model_path, "--quiet"]
    expected = {"stdin without --online": "needs `cosnet segment --online`", "no --stdin-size": "--stdin-size H W",
                "sampling": "--sampling does not apply with --online",
                "lag without --online": "--online-lag applies with --online only"}[case]
    if case == "lag without --online":
        argv += ["--online-lag", "2"]
    elif case != "stdin without --online":
        argv.append("--online")
    if case == "sampling":
        argv += ["--sampling", "local", "--stdin-size", "8", "8"]
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_a_stream_cut_mid_frame_names_the_problem():
    from cosnet_tf.inference import RawFrameStream

    stream = RawFrameStream(io.BytesIO(bytes(2 * 4 * 4 * 3 + 5)), (4, 4))
    with pytest.raises(DataFileError, match="ended part-way through a frame"):
        list(stream.iter_frames())


def test_a_url_is_read_as_a_live_stream_through_pyav(tmp_path):
    pytest.importorskip("av")
    from cosnet_tf.inference import PyAVStreamSource, is_live_input, open_online_source

    path = write_video(tmp_path / "camera.mp4", _frames(4))
    url = f"file://{path}"
    assert is_live_input(url) and is_live_input("-") and not is_live_input(path)
    source = open_online_source(url)
    assert isinstance(source, PyAVStreamSource) and (source.name, source.fps) == ("camera", 10.0)
    assert [(index, frame.shape) for index, frame in source.iter_frames()] == [(i, (*SIZE, 3)) for i in range(4)]


def test_a_camera_device_is_opened_with_the_v4l2_demuxer(monkeypatch):
    """`/dev/video*` goes to PyAV's V4L2 demuxer (this machine has no camera: the call is recorded)."""
    av = pytest.importorskip("av")
    from cosnet_tf.inference import PyAVStreamSource

    with pytest.raises(DataFileError, match="cannot open stream '/dev/video97'"):
        PyAVStreamSource("/dev/video97", timeout=1)  # no such device here
    calls = []
    stream = types.SimpleNamespace(average_rate=30, guessed_rate=None)
    container = types.SimpleNamespace(streams=types.SimpleNamespace(video=[stream]))
    monkeypatch.setattr(av, "open", lambda url, **options: calls.append((url, options)) or container)
    source = PyAVStreamSource("/dev/video0")
    assert calls == [("/dev/video0", {"format": "v4l2", "timeout": 30.0})]
    assert (source.name, source.fps) == ("video0", 30.0)


def _serve_clip(tmp_path, codec="mpeg4"):
    """A folder for a local server with a 6-frame clip, camera.mp4."""
    served = tmp_path / "served"
    served.mkdir()
    write_video(served / "camera.mp4", _frames(6), codec=codec)
    return served


def _assert_segmented_online(url, model_path, out, capsys):
    assert main(["segment", url, "--online", "--out", str(out), "--model", model_path, "--refs", "2",
                 "--quiet"]) == 0, capsys.readouterr().err
    assert sorted(os.listdir(out)) == [f"{index:05d}.png" for index in range(6)]
    assert _read_mask(out / "00005.png").shape == SIZE


def test_an_http_stream_is_segmented_online(model_path, tmp_path, capsys):
    """A source over the network: `cosnet segment http://... --online` reads what a local HTTP server sends."""
    pytest.importorskip("av")
    import functools
    import http.server

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=_serve_clip(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/camera.mp4"
        _assert_segmented_online(url, model_path, tmp_path / "out", capsys)
    finally:
        server.shutdown()
        server.server_close()


def test_an_rtsp_stream_is_segmented_online(model_path, tmp_path, capsys):
    """`cosnet segment rtsp://... --online` reads an H.264 stream that a local RTSP server sends."""
    pytest.importorskip("av")
    rtsp = pytest.importorskip("aio_rtsp_toolkit.server", reason="the RTSP test server is in the [dev] extra")
    import asyncio
    import socket

    served = _serve_clip(tmp_path, codec="libx264")  # the server sends H.264 or H.265
    with socket.socket() as probe:  # a free port: the server reports none back
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(rtsp.RtspServer(str(served), "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        _assert_segmented_online(f"rtsp://127.0.0.1:{port}/camera.mp4", model_path, tmp_path / "out", capsys)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
