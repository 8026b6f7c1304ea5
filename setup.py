"""cosnet-tf: COSNet (co-attention Siamese networks for unsupervised video object
segmentation, Lu et al., CVPR 2019) in Keras 3 / TensorFlow 2."""
import os
import re
import runpy

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# The extras live in the package (one place); this file only reads them.
EXTRAS = runpy.run_path(os.path.join(HERE, "cosnet_tf", "utils", "extras.py"))["EXTRAS"]
ALL = sorted({requirement for name, group in EXTRAS.items() if name != "torch" for requirement in group})
# The version lives in the package (`cosnet_tf.__version__`); read as text, since importing the
# package would import TensorFlow.
with open(os.path.join(HERE, "cosnet_tf", "__init__.py"), encoding="utf-8") as init:
    VERSION = re.search(r'^__version__ = "([^"]+)"', init.read(), re.M).group(1)

setup(
    name="cosnet-tf",
    version=VERSION,
    description="COSNet co-attention Siamese networks for unsupervised video object segmentation, in Keras 3",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    # The repository's saved_models/ (the shipped models and their card) is installed as
    # cosnet_tf/saved_models/, so an installed package carries its trained presets.
    packages=find_packages(include=["cosnet_tf", "cosnet_tf.*"]) + ["cosnet_tf.saved_models"],
    package_dir={"cosnet_tf.saved_models": "saved_models"},
    package_data={
        "cosnet_tf.saved_models": ["*.keras", "*.md"],
        "cosnet_tf.assets": ["*.mp4", "*.md"],  # `cosnet demo`'s clip and its attribution
    },
    py_modules=["cosnet_cli"],  # the `cosnet` launcher: TensorFlow's start-up lines silenced
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.3",
        "numpy>=1.24",
        "pillow>=10.1",  # ImageFont.load_default(size=...): the demo sheet's labels
        "h5py>=3.8",
        "pyyaml>=6",  # the DAVIS benchmark's db_info.yml (T's excluded sequences)
        "tensorboard>=2.16",  # the TensorBoard callback of `cosnet train` (TensorFlow pulls it in anyway)
        'tomli>=2; python_version<"3.11"',  # training configs (TOML) before the standard library's tomllib
    ],
    # One job's libraries each (cosnet_tf/utils/extras.py: missing ones are named in the error);
    # "all" is every extra but torch, "dev" is "all" plus what the tests need: pytest and
    # pytest-xdist (pytest.ini spreads the default suite over the CPU's cores) and an RTSP server
    # to stream a clip from (the only pure-Python one on PyPI; nothing else needs it). pytest 9.2
    # changed node ids under pytest-xdist 3.8, whose xdist_group then no longer groups
    # (pytest-dev/pytest-xdist#1386).
    extras_require={**EXTRAS, "all": ALL,
                    "dev": ["pytest>=7,<9.2", "pytest-xdist>=3.5", "aio-rtsp-toolkit>=0.1.4,<0.2", *ALL]},
    entry_points={"console_scripts": ["cosnet=cosnet_cli:main"]},
)
