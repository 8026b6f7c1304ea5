"""Train COSNet with model.fit: `python training/train.py --config training/configs/X.toml [flags]`.

The same as `cosnet train`; see `cosnet train --help` for every flag.
"""
import sys

from cosnet_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
