"""Callbacks of a training run: resumable checkpoints, best model, NaN guard."""
import json
import math
import os

import keras

from cosnet_tf.utils.atomic import atomic_output_path, atomic_write_bytes


class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves weights *and* optimizer state at the end of every epoch, atomically.

    A run's epochs are `checkpoint_every` steps long, so this is a checkpoint
    every K steps. After the process dies (even `kill -9`), `restore` puts the
    model and optimizer back as they were after the last completed epoch and
    returns the epoch to resume from, so the step count, the learning-rate
    schedule and the momentum carry on. The previous checkpoint is kept until
    the new one is complete: a kill while saving loses nothing.
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = os.fspath(directory)
        self.weights_path = os.path.join(self.directory, "latest.weights.h5")
        self.state_path = os.path.join(self.directory, "state.json")

    def on_epoch_end(self, epoch, logs=None):
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            return  # never overwrite a good checkpoint with a diverged model
        os.makedirs(self.directory, exist_ok=True)
        with atomic_output_path(self.weights_path) as tmp:
            # Keras 3's save_weights stores the optimizer's variables too.
            self.model.save_weights(tmp)
        state = {
            "epoch": epoch + 1,
            "step": int(self.model.optimizer.iterations.numpy()),
            "logs": {k: float(v) for k, v in (logs or {}).items()},
        }
        atomic_write_bytes(self.state_path, json.dumps(state, indent=2).encode())

    def restore(self, model):
        """Loads the last checkpoint into `model` (compiled); returns the state or None."""
        if not (os.path.exists(self.weights_path) and os.path.exists(self.state_path)):
            return None
        with open(self.state_path) as f:
            state = json.load(f)
        model.load_weights(self.weights_path)
        return state


class BestModelSaver(keras.callbacks.Callback):
    """Writes the inference model (`COSNet`, `.keras`) whenever `monitor` improves.

    The best value survives restarts: it is kept in `<path>.json` beside the
    model and read back at construction.
    """

    def __init__(self, path, monitor="val_J", mode="max"):
        super().__init__()
        self.path = os.fspath(path)
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.record_path = self.path + ".json"
        self.best = -math.inf
        if os.path.exists(self.record_path):
            with open(self.record_path) as f:
                self.best = self.sign * json.load(f)[monitor]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or self.sign * value <= self.best:
            return
        self.best = self.sign * value
        with atomic_output_path(self.path) as tmp:
            self.model.to_inference_model().save(tmp)
        record = {self.monitor: float(value), "epoch": epoch + 1, "step": int(self.model.optimizer.iterations.numpy())}
        atomic_write_bytes(self.record_path, json.dumps(record, indent=2).encode())


class NaNGuard(keras.callbacks.Callback):
    """Stops training with a clear message when the loss stops being finite."""

    def __init__(self, checkpoint_dir=None):
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        self.message = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            step = int(self.model.optimizer.iterations.numpy())
            where = (
                f"; the last good checkpoint is in {self.checkpoint_dir}" if self.checkpoint_dir else ""
            )
            self.message = (
                f"training stopped: the loss became {float(loss)} at step {step}{where}. "
                "Lower the learning rate or check the data."
            )
            print(f"\n{self.message}")
            self.model.stop_training = True
