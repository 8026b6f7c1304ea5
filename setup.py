"""cosnet-tf: COSNet (co-attention Siamese networks for unsupervised video object
segmentation, Lu et al., CVPR 2019) in Keras 3 / TensorFlow 2."""
from setuptools import find_packages, setup

setup(
    name="cosnet-tf",
    version="0.1.0",
    description="COSNet co-attention Siamese networks for unsupervised video object segmentation, in Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["cosnet_tf", "cosnet_tf.*"]),
    py_modules=["cosnet_cli"],  # the `cosnet` launcher: TensorFlow's start-up lines silenced
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.3",
        "numpy>=1.24",
        "pillow>=10",
        "h5py>=3.8",
        "pyyaml>=6",  # the DAVIS benchmark's db_info.yml (T's excluded sequences)
        "tensorboard>=2.16",  # the TensorBoard callback of `cosnet train`
        "matplotlib>=3.7",  # evaluation plots
        "pydensecrf2>=1.1",  # dense CRF post-processing (the original pydensecrf no longer builds)
        "av>=12",  # PyAV: video files in and overlay videos out
        "grpcio>=1.60",  # cosnet serve / cosnet predict
        "tensorflow-serving-api>=2.16,<2.22",  # PredictionService protos (same minor as tensorflow)
        "keras-tuner[bayesian]>=1.4",  # cosnet tune (the extra brings scipy, for Bayesian optimisation)
    ],
    extras_require={
        "dev": ["pytest>=7"],
        # Reading the authors' .pth checkpoint needs PyTorch; it is never a core dependency.
        "torch": ["torch>=2.0"],
    },
    entry_points={"console_scripts": ["cosnet=cosnet_cli:main"]},
)
