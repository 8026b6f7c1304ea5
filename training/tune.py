"""Keras Tuner ablation search: `python training/tune.py --config training/configs/tune_X.toml`.

The same as `cosnet tune`; see `cosnet tune --help` for every flag.
"""
import sys

from cosnet_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["tune", *sys.argv[1:]]))
