"""One training step under `MirroredStrategy` over 2 logical CPUs against the same step on one device.

Run as a script (the logical devices must be set before TensorFlow starts, so
not inside the pytest process): prints one JSON line with, for each VARIANT:OPTIMIZER
case, the largest weight difference after a video step and after an image step.

    python -m tests.helpers.mirrored_step symmetric:sgd vanilla:partwise_adamw
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cosnet_tf.training import IMAGE_STREAM, VIDEO_STREAM, COSNetTrainer, PartwiseAdamW  # noqa: E402
from tests.conftest import tiny_backbone  # noqa: E402


OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=1e-3),
    # The heads' 10x in the learning rate, per replica copy of each variable. Adam's first step
    # is lr * g / (|g| + epsilon): at the default epsilon (1e-7) a gradient of ~1e-7 turns the
    # replicas' float32 summation order into moves of ~1e-3, so epsilon is 1e-3 here.
    "partwise_adamw": lambda: PartwiseAdamW(0.02, weight_decay=1e-3, epsilon=1e-3),
}


def build(variant, optimizer="sgd"):
    keras.utils.set_random_seed(0)
    # Heads' batch norm synchronized: each replica sees 2 of the 4 samples, and the
    # statistics must be those of all 4, as on one device.
    model = COSNetTrainer(tiny_backbone(), coattention=variant, head_filters=16, synchronized_batch_norm=True,
                          class_balance=1.0, head_lr_multiplier=10.0)
    model.compile(optimizer=OPTIMIZERS[optimizer]())
    return model


def batch(stream, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.uniform(0, 255, (2, 4, 48, 48, 3)).astype("float32")
    masks = np.zeros((2, 4, 48, 48, 1), "float32")
    # Foreground shares differ between the two halves of the batch (one per replica),
    # so Eq. 11's eta is wrong unless it is taken over the whole batch.
    masks[:, :2, 8:40, 8:40] = 1.0
    masks[:, 2:, 20:28, 20:28] = 1.0
    x = {"frame_a": frames[0], "frame_b": frames[1], "stream": np.full((4,), stream, "int32")}
    y = {"mask_a": masks[0], "mask_b": masks[1]}
    return x, y


def weights_after_step(strategy, variant, stream, optimizer):
    """Weights before and after one step on one global batch of 4, and the model."""
    with strategy.scope():
        model = build(variant, optimizer)
    x, y = batch(stream)
    before = [w.numpy() for w in model.trainable_weights]
    model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=1, verbose=0)
    return before, [w.numpy() for w in model.trainable_weights], model


def compare(mirrored, variant, optimizer):
    result = {}
    for name, stream in (("video", VIDEO_STREAM), ("image", IMAGE_STREAM)):
        # Traced like the mirrored step: an eager reference moved some weights by up to 3e-3 more.
        start, one, _ = weights_after_step(tf.distribute.get_strategy(), variant, stream, optimizer)
        _, two, model = weights_after_step(mirrored, variant, stream, optimizer)
        result[name] = {
            "max_difference": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
            "largest_move": max(float(np.abs(a - b).max()) for a, b in zip(one, start)),
            "iterations": int(model.optimizer.iterations.numpy()),
        }
    return result


def main():
    # Here, not at import: pytest's doctest collection imports this module, and the logical
    # devices must not change the test process (nor can they, once TensorFlow has run).
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = {"replicas": mirrored.num_replicas_in_sync}
    for case in sys.argv[1:] or ["symmetric:sgd"]:
        variant, optimizer = case.split(":")
        result[case] = compare(mirrored, variant, optimizer)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
