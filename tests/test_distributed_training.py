"""Training under tf.distribute: a mirrored step equals the one-device step, and `cosnet train --strategy`.

Both run in subprocesses: two logical CPU devices can only be set up before
TensorFlow starts, and the pytest process has started it long before.
"""
import json
import os
import subprocess
import sys

import pytest

from cosnet_tf.data import SyntheticVideoGenerator
from cosnet_tf.training.distribution import STRATEGIES, make_strategy, per_replica_batch_size, worker_role
from cosnet_tf.training.run_config import TrainConfig
from tests.conftest import REPO_ROOT, TINY_BACKBONE

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


CASES = ("symmetric:sgd", "vanilla:partwise_adamw")


@pytest.fixture(scope="module")
def mirrored_steps():
    """Both cases in one subprocess: TensorFlow and the logical devices start once."""
    run = subprocess.run([sys.executable, "-m", "tests.helpers.mirrored_step", *CASES], cwd=REPO_ROOT,
                         env=ENV, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two strategies x two steps, built twice
@pytest.mark.distributed
@pytest.mark.parametrize("case", CASES)
def test_mirrored_step_equals_the_one_device_step(mirrored_steps, case):
    """Global batch 4 on 2 replicas: same weights as batch 4 on one device, for a video and an image step.

    This fails if the per-replica loss is not scaled (0.5x or 2x moves), if Eq. 11's
    foreground share is taken per replica (the halves of the batch differ), or if
    the heads' batch norm is not synchronized; with PartwiseAdamW, if a replica's copy of a
    head variable misses its 10x learning rate.
    """
    assert mirrored_steps["replicas"] == 2
    for stream in ("video", "image"):
        step = mirrored_steps[case][stream]
        assert step["iterations"] == 1
        assert step["largest_move"] > 1e-2, "the step moved nothing: the comparison would be empty"
        assert step["max_difference"] < 1e-4 * max(1.0, step["largest_move"] / 1e-2), (stream, step)


@pytest.mark.slow  # a short training run on two logical CPUs
@pytest.mark.distributed
def test_cosnet_train_mirrored_over_two_logical_cpus(tmp_path):
    root = tmp_path / "data"
    gen = SyntheticVideoGenerator(num_sequences=3, num_frames=5, image_size=(48, 48), seed=2, num_val_sequences=1)
    davis = gen.write_davis(root / "davis")
    images, masks = gen.write_saliency(root / "saliency", num_images=4)
    out = tmp_path / "run"
    config = dict(
        out=str(out), davis_root=str(davis), saliency_images=str(images), saliency_masks=str(masks),
        preset="mobilenetv2", coattention="vanilla", backbone_config=TINY_BACKBONE, input_size=[48, 48],
        batch_size=4, steps=6, checkpoint_every=3, val_batches=1, video_steps=2, image_steps=1,
        strategy="mirrored", devices=["/cpu:0", "/cpu:1"], synchronized_batch_norm=True, summary_dropout=0.5,
        verbose=2,
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "cosnet_tf.cli.main", "train", "--config", str(path)]
    run = subprocess.run(command, cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    # Six steps: four video steps and two image steps, each on both replicas.
    assert state["step"] == 6 and state["epoch"] == 2
    assert all(key in state["logs"] for key in ("video_loss", "image_loss", "val_J"))
    assert (out / "final.keras").exists()
    # Run again: complete, nothing to do, the same step count.
    again = subprocess.run(command, cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 6


def test_strategy_settings_are_checked():
    assert make_strategy("none").num_replicas_in_sync == 1
    assert worker_role(make_strategy("none")) == (True, 0)
    with pytest.raises(ValueError, match="strategy must be one of"):
        make_strategy("horovod")
    with pytest.raises(ValueError, match="only with the mirrored strategy"):
        make_strategy("none", devices=["/gpu:0"])
    with pytest.raises(ValueError, match="strategy must be one of"):
        TrainConfig(davis_root="x", strategy="tpu")
    assert set(STRATEGIES) == {"auto", "none", "mirrored", "multi-worker"}


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi-worker")


def test_global_batch_must_divide_between_replicas():
    class Two:
        num_replicas_in_sync = 2

    assert per_replica_batch_size(Two(), 8) == 4
    with pytest.raises(ValueError, match="multiple of the 2 replicas"):
        per_replica_batch_size(Two(), 5)


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(config_path, ports, logs):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index, log in enumerate(logs):
        env = dict(ENV, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        command = [sys.executable, "-m", "cosnet_tf.cli.main", "train", "--config", str(config_path)]
        workers.append(subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=open(log, "w"),
                                        stderr=subprocess.STDOUT))
    return workers


def _end(workers, timeout):
    """Waits for every worker up to `timeout` s in all, then kills what is left; returns the exit codes."""
    import time

    deadline = time.time() + timeout
    for worker in workers:
        try:
            worker.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)
    return [worker.returncode for worker in workers]


@pytest.mark.slow  # two worker processes, started twice
@pytest.mark.distributed
def test_two_workers_train_in_sync_and_resume_after_a_kill(tmp_path):
    """MultiWorkerMirroredStrategy over loopback: one worker is killed after a checkpoint, both restart."""
    import time

    gen = SyntheticVideoGenerator(num_sequences=3, num_frames=5, image_size=(48, 48), seed=2, num_val_sequences=1)
    davis = gen.write_davis(tmp_path / "davis")
    out = tmp_path / "run"
    config = dict(
        out=str(out), davis_root=str(davis), preset="mobilenetv2", coattention="vanilla",
        backbone_config=TINY_BACKBONE, input_size=[48, 48], batch_size=4, steps=12, checkpoint_every=3,
        val_batches=1, strategy="multi-worker", synchronized_batch_norm=True, verbose=2,
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    state_path = out / "checkpoint" / "state.json"
    logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
    workers = _start_workers(path, _free_ports(2), logs)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and all(w.poll() is None for w in workers):
            if state_path.exists() and json.loads(state_path.read_text())["epoch"] >= 1:
                break
            time.sleep(0.05)
        assert all(w.poll() is None for w in workers), "a worker ended before the kill: " + logs[0].read_text()[-2000:]
        workers[1].kill()  # the non-chief dies; the chief then waits on its collectives and is stopped too
    finally:
        _end(workers, timeout=10)
    killed_at = json.loads(state_path.read_text())
    assert 3 <= killed_at["step"] < 12 and killed_at["step"] % 3 == 0
    assert not (out / "final.keras").exists()

    logs = [tmp_path / "worker0-again.log", tmp_path / "worker1-again.log"]
    codes = _end(_start_workers(path, _free_ports(2), logs), timeout=400)
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    for output in outputs:
        assert f"at step {killed_at['step']}" in output or "resuming" in output
    final = json.loads(state_path.read_text())
    assert final["step"] == 12 and final["epoch"] == 4
    # The replicas stayed in sync: both workers end with the same weights (batch norm synchronized).
    prints = [line for output in outputs for line in output.splitlines() if "weights fingerprint" in line]
    assert len(prints) == 2 and prints[0] == prints[1] and "step 12" in prints[0]
    # Only the chief wrote the run folder.
    assert (out / "final.keras").exists() and not list(out.rglob(".tmp-*"))
