"""Optional dependencies, grouped as pip extras, and an import that names the missing extra.

`pip install cosnet-tf` installs the core (TensorFlow, Keras, NumPy, Pillow, h5py, PyYAML):
enough to train, segment frame folders with the shipped model and evaluate. Each extra adds
one job's libraries. setup.py reads `EXTRAS` from this file, so the two never disagree.
"""
import importlib

#: extra -> the pip requirements it adds.
EXTRAS = {
    "video": ["av>=12"],  # PyAV: video files in, overlay videos out
    "crf": ["pydensecrf2>=1.1"],  # dense CRF post-processing (the original pydensecrf no longer builds)
    "serve": ["grpcio>=1.60", "tensorflow-serving-api>=2.16,<2.22"],  # cosnet serve / cosnet predict
    "tune": ["keras-tuner[bayesian]>=1.4", "matplotlib>=3.7"],  # cosnet tune (scipy for Bayesian search)
    "plots": ["matplotlib>=3.7"],  # evaluation plots, cosnet explain's sheet
    "analysis": ["scipy>=1.15"],  # error_regions' connected regions; paired_difference's bootstrap (`rng`: SciPy 1.15)
    "torch": ["torch>=2.0"],  # reading the authors' .pth checkpoint
    "litert": ["ai-edge-litert>=1.2"],  # running `cosnet export --format litert` models
}


def require(module, extra, purpose):
    """Imports `module`; when it is missing, an ImportError that says which extra installs it.

    Args:
        module: the module to import, e.g. "av" or "pydensecrf.densecrf".
        extra: the key of `EXTRAS` that provides it.
        purpose: what needs it, for the message ("reading the video 'clip.mp4'").
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; expected one of {sorted(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{purpose} needs the '{extra}' extra: pip install \"cosnet-tf[{extra}]\" "
            f"(or pip install {' '.join(EXTRAS[extra])}); the module {module!r} is missing ({error})"
        ) from error
