"""Reader for video segmentation data in the DAVIS-2016 folder layout.

Layout (``<res>`` is the resolution folder, ``480p`` by default)::

    root/
      JPEGImages/<res>/<sequence>/00000.jpg, 00001.jpg, ...
      Annotations/<res>/<sequence>/00000.png, 00001.png, ...   (0/255 masks)
      ImageSets/<res>/train.txt, val.txt, ...                   (optional)

This module only lists files; decoding happens inside the ``tf.data``
pipelines (see :mod:`cosnet_tf.data.decoding`).  Checks that need nothing but
the file system (missing folders, empty sequences, frames without masks) are
made when a :class:`DavisDataset` is constructed, so a bad dataset fails
before training starts rather than hours into it.  Checks that need the pixels
(corrupt files, a mask whose size differs from its frame) are made when each
file is decoded and raise :class:`~cosnet_tf.data.decoding.DataFileError`
naming the file.

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator
    >>> root = SyntheticVideoGenerator(num_sequences=3, num_frames=4,
    ...                                image_size=(32, 32)).write_davis(tempfile.mkdtemp())
    >>> dataset = DavisDataset(root, split="train")
    >>> dataset.sequence_names
    ['synthetic-000', 'synthetic-001']
    >>> sequence = dataset["synthetic-001"]
    >>> len(sequence), sequence.frame_paths[0].endswith("synthetic-001/00000.jpg")
    (4, True)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

from cosnet_tf.utils.image_files import IMAGE_EXTENSIONS, list_image_files

PathLike = Union[str, os.PathLike]

#: Extension of annotation files.
MASK_EXTENSION = ".png"

# Error messages list at most this many offending files, then a count.
_MAX_LISTED = 5


@dataclasses.dataclass(frozen=True)
class VideoSequence:
    """The files of one video: ordered frames and the matching masks.

    Attributes:
        name: sequence (folder) name, e.g. ``"bear"``.
        frame_paths: absolute frame paths in temporal order.
        mask_paths: one entry per frame: the mask path, or ``None`` for a frame
            without annotation (only possible with ``require_masks=False``).
    """

    name: str
    frame_paths: tuple[str, ...]
    mask_paths: tuple[Optional[str], ...]

    def __post_init__(self) -> None:
        if len(self.frame_paths) != len(self.mask_paths):
            raise ValueError(
                f"sequence {self.name!r}: {len(self.frame_paths)} frames but "
                f"{len(self.mask_paths)} mask entries"
            )

    def __len__(self) -> int:
        return len(self.frame_paths)

    @property
    def has_all_masks(self) -> bool:
        """True when every frame has a mask file."""
        return all(path is not None for path in self.mask_paths)


def read_sequence_list(path: PathLike) -> list[str]:
    """Read sequence names from a split file, in order of first appearance.

    Two formats are understood, line by line (blank lines and ``#`` comments
    are skipped):

    * a bare sequence name per line (DAVIS-2017 ``ImageSets/2016/train.txt``);
    * the DAVIS-2016 frame-level format
      ``/JPEGImages/480p/bear/00000.jpg /Annotations/480p/bear/00000.png``,
      from which the sequence is the parent folder of the first path.

    Example:
        >>> import tempfile, os
        >>> split = os.path.join(tempfile.mkdtemp(), "val.txt")
        >>> with open(split, "w") as f:
        ...     _ = f.write("/JPEGImages/480p/cows/00000.jpg /Annotations/480p/cows/00000.png\\n"
        ...                 "/JPEGImages/480p/cows/00001.jpg /Annotations/480p/cows/00001.png\\n"
        ...                 "dog\\n")
        >>> read_sequence_list(split)
        ['cows', 'dog']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: '{path}'")
    names: dict[str, None] = {}  # insertion-ordered set
    for line_number, raw_line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        first = line.split()[0]
        if "/" in first or "\\" in first:
            name = Path(first.replace("\\", "/")).parent.name
        else:
            name = first
        if not name:
            raise ValueError(f"{path}:{line_number}: cannot read a sequence name from {raw_line!r}")
        names[name] = None
    if not names:
        raise ValueError(f"split file '{path}' lists no sequences")
    return list(names)


def _describe_paths(paths: Sequence[str]) -> str:
    listed = ", ".join(f"'{path}'" for path in paths[:_MAX_LISTED])
    more = len(paths) - _MAX_LISTED
    return listed + (f" and {more} more" if more > 0 else "")


class DavisDataset:
    """Sequences of a DAVIS-2016-style dataset, validated at construction.

    Args:
        root: dataset root (the folder holding ``JPEGImages``).
        sequences: explicit sequence names to use, in this order.
        split: a split name looked up as ``ImageSets/<resolution>/<split>.txt``
            (falling back to ``ImageSets/2016/<split>.txt``, the DAVIS-2017
            release's location of the 2016 splits).
        split_file: path of a split file (see :func:`read_sequence_list`).
        resolution: resolution folder name under ``JPEGImages`` and
            ``Annotations``.
        require_masks: when True (training and evaluation) every frame must
            have ``Annotations/<res>/<seq>/<frame stem>.png``; when False
            (inference on unannotated videos) missing masks become ``None``.

    At most one of ``sequences``, ``split`` and ``split_file`` may be given;
    with none of them, every sub-folder of ``JPEGImages/<res>`` is used in
    sorted order.  Frames are sorted by file name (DAVIS names them
    ``%05d.jpg``, which sorts temporally).

    Raises:
        FileNotFoundError: the root, image folder, a listed sequence folder,
            the split file or (with ``require_masks``) a mask is missing.  The
            message names the missing path(s).
        ValueError: a sequence has no frames, or the selection is empty or
            ambiguous.
    """

    def __init__(
        self,
        root: PathLike,
        sequences: Optional[Sequence[str]] = None,
        *,
        split: Optional[str] = None,
        split_file: Optional[PathLike] = None,
        resolution: str = "480p",
        require_masks: bool = True,
    ) -> None:
        given = [name for name, value in
                 (("sequences", sequences), ("split", split), ("split_file", split_file))
                 if value is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of sequences, split and split_file (got {given})")
        if isinstance(sequences, str):
            raise TypeError("sequences must be a list of names, not a single string")

        self.root = Path(root).expanduser().resolve()
        self.resolution = resolution
        self.require_masks = require_masks
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset root not found: '{self.root}'")
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"frame folder not found: '{self.image_dir}'")

        if sequences is not None:
            names = list(sequences)
        elif split is not None:
            names = read_sequence_list(self._find_split_file(split))
        elif split_file is not None:
            names = read_sequence_list(split_file)
        else:
            names = sorted(entry.name for entry in self.image_dir.iterdir() if entry.is_dir())
        if not names:
            raise ValueError(f"no sequences selected under '{self.image_dir}'")
        if len(set(names)) != len(names):
            raise ValueError(f"sequence names are repeated in {names}")

        self._sequences = [self._scan_sequence(name) for name in names]
        self._by_name = {sequence.name: sequence for sequence in self._sequences}

    # -- layout -------------------------------------------------------------

    @property
    def image_dir(self) -> Path:
        """``<root>/JPEGImages/<resolution>``."""
        return self.root / "JPEGImages" / self.resolution

    @property
    def annotation_dir(self) -> Path:
        """``<root>/Annotations/<resolution>``."""
        return self.root / "Annotations" / self.resolution

    def _find_split_file(self, split: str) -> Path:
        candidates = [self.root / "ImageSets" / self.resolution / f"{split}.txt",
                      self.root / "ImageSets" / "2016" / f"{split}.txt"]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"split {split!r} not found; looked for " + " and ".join(f"'{c}'" for c in candidates)
        )

    def _scan_sequence(self, name: str) -> VideoSequence:
        frame_dir = self.image_dir / name
        if not frame_dir.is_dir():
            raise FileNotFoundError(f"sequence {name!r}: frame folder not found: '{frame_dir}'")
        frames = list_image_files(frame_dir)
        if not frames:
            raise ValueError(
                f"sequence {name!r} has no frames (no {'/'.join(IMAGE_EXTENSIONS)} files in '{frame_dir}')"
            )
        mask_dir = self.annotation_dir / name
        mask_paths: list[Optional[str]] = []
        missing: list[str] = []
        for frame in frames:
            mask = mask_dir / (frame.stem + MASK_EXTENSION)
            if mask.is_file():
                mask_paths.append(str(mask))
            else:
                mask_paths.append(None)
                missing.append(str(mask))
        if missing and self.require_masks:
            raise FileNotFoundError(
                f"sequence {name!r}: {len(missing)} of {len(frames)} frames have no mask; "
                f"missing {_describe_paths(missing)}"
            )
        return VideoSequence(name, tuple(str(frame) for frame in frames), tuple(mask_paths))

    # -- container protocol -------------------------------------------------

    @property
    def sequences(self) -> list[VideoSequence]:
        """The selected sequences, in selection order."""
        return list(self._sequences)

    @property
    def sequence_names(self) -> list[str]:
        """Names of the selected sequences, in selection order."""
        return [sequence.name for sequence in self._sequences]

    @property
    def num_frames(self) -> int:
        """Total number of frames over all selected sequences."""
        return sum(len(sequence) for sequence in self._sequences)

    def __len__(self) -> int:
        return len(self._sequences)

    def __iter__(self) -> Iterator[VideoSequence]:
        return iter(self._sequences)

    def __getitem__(self, key: Union[int, str]) -> VideoSequence:
        if isinstance(key, str):
            try:
                return self._by_name[key]
            except KeyError:
                raise KeyError(f"no sequence {key!r}; have {self.sequence_names}") from None
        return self._sequences[key]

    def __repr__(self) -> str:
        return (f"DavisDataset(root='{self.root}', resolution={self.resolution!r}, "
                f"sequences={len(self)}, frames={self.num_frames})")
