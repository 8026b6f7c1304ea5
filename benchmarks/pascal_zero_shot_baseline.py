"""The baseline a user would pick instead of COSNet: DeepLabv3-MobileNetV2 (PASCAL VOC) zero-shot.

Every pixel whose PASCAL class is not "background" is foreground. Each frame is segmented
at full resolution (854x480 for DAVIS-2016: the network is fully convolutional) and scored
with the DAVIS-2016 protocol (`cosnet evaluate`: J and F with mean, recall and decay, and T).
This is the model COSNet's `mobilenetv2` preset starts from, so a trained COSNet must beat it.

    python benchmarks/pascal_zero_shot_baseline.py [--davis-root ../shared/data/davis2016-dev]
        [--weights ../shared/weights/deeplabv3_mobilenetv2_1.0_pascal_byname.h5] [--out DIR]
        [--db-info ../shared/data/davis2016-train/db_info.yml]
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared")


def build_pascal_segmenter(weights):
    """DeepLabv3-MobileNetV2 at output stride 16 with its 21-class PASCAL classifier, weights by name."""
    import keras

    from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone, load_weights_by_name

    backbone = MobileNetV2DeepLabV3Backbone(alpha=1.0, output_stride=16, name="backbone")
    load_weights_by_name(backbone, weights)
    classifier = keras.layers.Conv2D(21, 1, use_bias=True, name="logits_conv")
    frames = keras.Input((None, None, 3))
    model = keras.Model(frames, classifier(backbone(frames)["embedding"]))
    load_weights_by_name(model, weights, require=["logits_conv"], allow_missing=("backbone",))
    return model


def segment_sequences(model, dataset, out_dir):
    """Writes `out_dir/<sequence>/%05d.png` masks; returns (frames, seconds)."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    from cosnet_tf.data import load_rgb_image

    @tf.function(reduce_retracing=True)
    def foreground(frame):
        logits = model(tf.cast(frame, tf.float32)[None])
        # DeepLab upsamples the logits to the frame before the argmax.
        logits = tf.image.resize(logits, tf.shape(frame)[:2], method="bilinear")
        return tf.argmax(logits[0], axis=-1) != 0

    count, started = 0, time.perf_counter()
    for sequence in dataset:
        target = os.path.join(out_dir, sequence.name)
        os.makedirs(target, exist_ok=True)
        for index, path in enumerate(sequence.frame_paths):
            mask = foreground(load_rgb_image(path)).numpy()
            Image.fromarray(mask.astype(np.uint8) * 255).save(os.path.join(target, f"{index:05d}.png"))
            count += 1
    return count, time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis-root", default=os.path.join(SHARED, "data", "davis2016-dev"))
    parser.add_argument("--weights", default=os.path.join(SHARED, "weights", "deeplabv3_mobilenetv2_1.0_pascal_byname.h5"))
    parser.add_argument("--sequences", nargs="+", help="default: every sequence of the root")
    parser.add_argument("--out", help="keep the masks and the scores here (default: a temporary folder)")
    parser.add_argument("--db-info", default=os.path.join(SHARED, "data", "davis2016-train", "db_info.yml"),
                        help="the benchmark's db_info.yml (all 50 DAVIS-2016 sequences): T skips those with "
                        "eval_t: False; default the training root's copy, if present")
    args = parser.parse_args(argv)
    for path in (args.davis_root, args.weights):
        if not os.path.exists(path):
            raise SystemExit(f"not found: {path} (the project's ../shared folder)")

    from cosnet_tf.data import DavisDataset
    from cosnet_tf.evaluation import evaluate

    dataset = DavisDataset(args.davis_root, sequences=args.sequences) if args.sequences else DavisDataset(args.davis_root)
    model = build_pascal_segmenter(args.weights)
    out = args.out or tempfile.mkdtemp(prefix="pascal-zero-shot-")
    frames, seconds = segment_sequences(model, dataset, os.path.join(out, "masks"))
    options = {"t_exclude": args.db_info} if args.db_info and os.path.isfile(args.db_info) else {}
    result = evaluate(os.path.join(out, "masks"), args.davis_root, "davis2016",
                      sequences=[s.name for s in dataset], **options)
    print(result.format_table())
    result.to_json(os.path.join(out, "scores.json"))
    print(f"\nPASCAL DeepLabv3-MobileNetV2 zero-shot (any non-background class), {len(dataset)} sequences, "
          f"{frames} frames at full resolution: {frames / seconds:.2f} frames/s on this machine; masks and "
          f"scores in {out}")


if __name__ == "__main__":
    main()
