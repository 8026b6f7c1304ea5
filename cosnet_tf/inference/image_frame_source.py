"""Frames stored as image files: a folder, a list of paths, or DAVIS sequences."""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from cosnet_tf.data.davis import DavisDataset
from cosnet_tf.data.decoding import DataFileError, load_rgb_image
from cosnet_tf.inference.frame_source import FrameSource
from cosnet_tf.utils.image_files import IMAGE_EXTENSIONS, list_image_files


class ImageFrameSource(FrameSource):
    """A video stored as one image file per frame, in the given order.

    Only the headers are read at construction (fast: no pixel decoding), which
    is enough to fail early, naming the file, on an unreadable frame or on
    frames of mixed sizes; pixels are decoded one frame at a time when read.

    Args:
        paths: the frame files in temporal order.
        name: the video's name (default: the first frame's folder name).

    Raises:
        DataFileError: no paths, a frame whose header cannot be read, or a
            frame whose size differs from the first's (both files named).

    Example:

    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> folder = tempfile.mkdtemp()
    >>> for i in (2, 10, 1):
    ...     Image.fromarray(np.full((6, 8, 3), i, np.uint8)).save(f"{folder}/frame{i}.png")
    >>> source = ImageFrameSource.from_folder(folder, name="demo")
    >>> [os.path.basename(p) for p in source.paths]
    ['frame1.png', 'frame2.png', 'frame10.png']
    >>> len(source), source.frame_size, int(source.read_frames([2])[2][0, 0, 0])
    (3, (6, 8), 10)
    """

    def __init__(self, paths, name=None):
        self.paths = tuple(os.fspath(path) for path in paths)
        if not self.paths:
            raise DataFileError(f"no frames given for {name or 'the video'!r}")
        self.name = name or Path(self.paths[0]).parent.name or "frames"
        self._size = self._scan_headers()

    def _scan_headers(self):
        size = first = None
        for path in self.paths:
            if not os.path.isfile(path):
                raise DataFileError(f"frame file not found: '{path}'")
            try:
                with Image.open(path) as image:
                    width, height = image.size
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
                raise DataFileError(
                    f"cannot read frame '{path}' (corrupt or not an image): {error}"
                ) from error
            if size is None:
                size, first = (height, width), path
            elif (height, width) != size:
                raise DataFileError(
                    f"frame '{path}' is {width}x{height} (WxH) but the first frame '{first}' is "
                    f"{size[1]}x{size[0]}; all frames of a video must have one size"
                )
        return size

    @classmethod
    def from_folder(cls, folder, name=None):
        """The image files of ``folder`` (hidden files skipped), in natural name order.

        Raises:
            FileNotFoundError: ``folder`` is not a directory.
            DataFileError: the folder holds no image file (the message names it).
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"frame folder not found: '{folder}'")
        paths = list_image_files(folder)
        if not paths:
            raise DataFileError(
                f"no frames in folder '{folder}' (no {', '.join(IMAGE_EXTENSIONS)} files)"
            )
        return cls(paths, name=name or folder.resolve().name)

    @classmethod
    def from_davis(cls, root, sequences=None, resolution="480p"):
        """One source per sequence of a DAVIS root (``JPEGImages/<resolution>/<sequence>``).

        Args:
            root: the dataset root.
            sequences: sequence names (default: every sequence folder).
            resolution: the resolution folder.

        Returns:
            A list of sources named after their sequences; masks are not needed.
        """
        dataset = DavisDataset(root, sequences, resolution=resolution, require_masks=False)
        return [cls(sequence.frame_paths, name=sequence.name) for sequence in dataset]

    def __len__(self):
        return len(self.paths)

    @property
    def frame_size(self):
        return self._size

    def describe(self, index):
        return f"frame '{self.paths[index]}'"

    def _read(self, index):
        # The whole payload is decoded, so a file corrupt past its header is named here.
        return load_rgb_image(self.paths[index])
