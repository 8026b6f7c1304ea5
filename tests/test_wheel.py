"""The wheel: built from the checkout, installed apart from it, it segments with the models it carries."""
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

from tests.conftest import REPO_ROOT

# What a build from the checkout leaves out: the git data, builds, runs and caches.
_NOT_SOURCES = shutil.ignore_patterns(".git", "build", "dist", "runs", "*.egg-info", "__pycache__",
                                      ".pytest_cache", ".venv", ".whl")


def test_setup_reads_the_version_of_the_package():
    import cosnet_tf

    result = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == cosnet_tf.__version__


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel, venv): the wheel built from a copy of the checkout, installed into a fresh venv.

    The venv borrows this environment's dependencies (TensorFlow is not downloaded again) through a
    `.pth` line naming its site-packages. Lines of a `.pth` file only extend `sys.path`, so the
    editable install's finder there, which points at the checkout, is never run.
    """
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=_NOT_SOURCES)
    # No build isolation: setuptools is the project's own (no download); no deps: TensorFlow is there.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = (root / "dist").glob("cosnet_tf-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = venv / "bin" / "python"
    venv_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip()
    (pathlib.Path(venv_site) / "_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "install", "--no-deps",
                    "--no-compile", str(wheel)], check=True, capture_output=True, timeout=600)
    return wheel, venv


def _run_installed(venv, argv, cwd, timeout=900):
    # The venv's own interpreter and scripts, from a folder outside the checkout, no PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_wheel_carries_both_models_and_the_demo_clip(installed):
    wheel, _ = installed
    assert wheel.stat().st_size < 100e6, f"{wheel.name} is {wheel.stat().st_size / 1e6:.1f} MB"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata).decode()
    for path in ("cosnet_tf/saved_models/cosnet_mobilenetv2_davis.keras",
                 "cosnet_tf/saved_models/cosnet_mobilenetv2_davis_none.keras",
                 "cosnet_tf/saved_models/cosnet_mobilenetv2_davis.md",
                 "cosnet_tf/assets/bigbuckbunny_clip.mp4", "cosnet_tf/assets/ATTRIBUTION.md", "cosnet_cli.py"):
        assert path in names, path
    assert not any(name.startswith(("saved_models/", "tests/", "training/")) for name in names)
    assert "Requires-Python: >=3.10" in metadata
    assert 'Requires-Dist: tomli>=2; python_version < "3.11"' in metadata


@pytest.mark.slow
def test_the_installed_wheel_segments_with_its_own_model(installed, tmp_path):
    import av
    from PIL import Image

    _, venv = installed
    frames = tmp_path / "frames"
    frames.mkdir()
    with av.open(str(REPO_ROOT / "cosnet_tf" / "assets" / "bigbuckbunny_clip.mp4")) as video:
        for index, frame in zip(range(8), video.decode(video=0)):
            frame.to_image().resize((320, 180)).save(frames / f"{index:05d}.jpg", quality=95)

    cli = _run_installed(venv, [str(venv / "bin" / "cosnet"), "segment", str(frames),
                                  "--out", str(tmp_path / "cli")], cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr[-3000:]
    cli_masks = np.stack([np.asarray(Image.open(p)) for p in sorted((tmp_path / "cli").glob("*.png"))])

    code = (
        "import sys, numpy as np, cosnet_tf\n"
        "from cosnet_tf import COSNet\n"
        "from cosnet_tf.assets import demo_clip_path\n"
        "from cosnet_tf.models.shipped import shipped_model_path\n"
        "from importlib import metadata\n"
        "print('package', cosnet_tf.__file__)\n"
        "print('model', shipped_model_path())\n"
        "print('clip', demo_clip_path())\n"
        "assert metadata.version('cosnet-tf') == cosnet_tf.__version__\n"
        "masks = cosnet_tf.segment_video(sys.argv[1])\n"
        "again = cosnet_tf.segment_video(sys.argv[1], COSNet.from_preset('cosnet_mobilenetv2_davis'))\n"
        "assert COSNet.from_preset('cosnet_mobilenetv2_davis_none').coattention is None\n"
        "np.save(sys.argv[2], np.stack([masks, again]))\n"
    )
    api = _run_installed(venv, [str(venv / "bin" / "python"), "-c", code, str(frames), str(tmp_path / "api.npy")],
                         cwd=tmp_path)
    assert api.returncode == 0, api.stderr[-3000:]
    places = dict(line.split(" ", 1) for line in api.stdout.splitlines() if line.split(" ", 1)[0] in
                  ("package", "model", "clip"))
    for what, path in places.items():  # the wheel's files, not the checkout's
        assert path.startswith(str(venv) + os.sep), (what, path)
    api_masks, preset_masks = np.load(tmp_path / "api.npy")
    assert api_masks.shape == cli_masks.shape == (8, 180, 320)
    np.testing.assert_array_equal(api_masks, cli_masks)
    np.testing.assert_array_equal(preset_masks, api_masks)
    assert 0.05 < (api_masks > 0).mean() < 0.6  # the trained model finds the bunny, not the whole frame
