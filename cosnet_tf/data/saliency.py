"""Reader for still-image saliency datasets (MSRA10K, DUTS, ECSSD, ...).

COSNet is trained on video frame pairs *and* on salient-object images, which
give the backbone more object diversity than the few DAVIS videos.  Those sets
come as a folder of images and a folder of masks whose files share a stem::

    DUTS-TR/DUTS-TR-Image/ILSVRC2012_test_00000004.jpg
    DUTS-TR/DUTS-TR-Mask/ILSVRC2012_test_00000004.png

MSRA10K keeps both in one folder (``Imgs/1.jpg`` next to ``Imgs/1.png``);
pass the same folder twice, the extensions tell images from masks.

Where no saliency set is at hand, :meth:`SaliencyDataset.from_videos` takes
the annotated frames of training videos as the stills.

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import SaliencyDataset, SyntheticVideoGenerator
    >>> image_dir, mask_dir = SyntheticVideoGenerator(image_size=(32, 32)).write_saliency(
    ...     tempfile.mkdtemp(), num_images=3)
    >>> dataset = SaliencyDataset(image_dir, mask_dir)
    >>> len(dataset), dataset.stems
    (3, ['image-00000', 'image-00001', 'image-00002'])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence, Union

if TYPE_CHECKING:
    from cosnet_tf.data.davis import VideoSequence

PathLike = Union[str, os.PathLike]

_MAX_LISTED = 5


def _index_by_stem(folder: Path, extensions: Sequence[str], kind: str) -> dict[str, Path]:
    wanted = {extension.lower() for extension in extensions}
    by_stem: dict[str, Path] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.is_file() or entry.suffix.lower() not in wanted:
            continue
        if entry.stem in by_stem:
            raise ValueError(
                f"two {kind} files share the stem {entry.stem!r}: "
                f"'{by_stem[entry.stem]}' and '{entry}'"
            )
        by_stem[entry.stem] = entry
    return by_stem


def _describe(names: Sequence[str]) -> str:
    listed = ", ".join(repr(name) for name in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return listed + (f" and {more} more" if more > 0 else "")


class SaliencyDataset:
    """Image/mask pairs matched by file stem, validated at construction.

    Args:
        image_dir: folder of images.
        mask_dir: folder of masks (8-bit grey, foreground >= 128); may be the
            same folder as ``image_dir`` when the extensions differ.
        image_extensions: endings of image files (case-insensitive).
        mask_extensions: endings of mask files (case-insensitive).

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: a folder holds no images, the extension sets overlap while
            the folders are the same, two files share a stem, or some images
            have no mask or some masks no image (the stems are listed).

    Attributes:
        stems: the matched file stems, sorted (for :meth:`from_videos`:
            ``video/frame``, in the videos' order).
        image_paths: image paths, aligned with :attr:`stems`.
        mask_paths: mask paths, aligned with :attr:`stems`.
    """

    def __init__(
        self,
        image_dir: PathLike,
        mask_dir: PathLike,
        *,
        image_extensions: Sequence[str] = (".jpg", ".jpeg"),
        mask_extensions: Sequence[str] = (".png",),
    ) -> None:
        self.image_dir = Path(image_dir).expanduser().resolve()
        self.mask_dir = Path(mask_dir).expanduser().resolve()
        for kind, folder in (("image", self.image_dir), ("mask", self.mask_dir)):
            if not folder.is_dir():
                raise FileNotFoundError(f"{kind} folder not found: '{folder}'")
        if self.image_dir == self.mask_dir and (
            {e.lower() for e in image_extensions} & {e.lower() for e in mask_extensions}
        ):
            raise ValueError(
                "images and masks share the folder "
                f"'{self.image_dir}', so their extensions must differ "
                f"(got {tuple(image_extensions)} and {tuple(mask_extensions)})"
            )

        images = _index_by_stem(self.image_dir, image_extensions, "image")
        masks = _index_by_stem(self.mask_dir, mask_extensions, "mask")
        if not images:
            raise ValueError(
                f"no images ({'/'.join(image_extensions)}) in '{self.image_dir}'"
            )
        images_without_mask = sorted(set(images) - set(masks))
        masks_without_image = sorted(set(masks) - set(images))
        if images_without_mask or masks_without_image:
            problems = []
            if images_without_mask:
                problems.append(
                    f"{len(images_without_mask)} image(s) in '{self.image_dir}' have no mask in "
                    f"'{self.mask_dir}': {_describe([images[s].name for s in images_without_mask])}"
                )
            if masks_without_image:
                problems.append(
                    f"{len(masks_without_image)} mask(s) in '{self.mask_dir}' have no image in "
                    f"'{self.image_dir}': {_describe([masks[s].name for s in masks_without_image])}"
                )
            raise ValueError("; ".join(problems))

        self.stems: list[str] = sorted(images)
        self.image_paths: list[str] = [str(images[stem]) for stem in self.stems]
        self.mask_paths: list[str] = [str(masks[stem]) for stem in self.stems]

    @classmethod
    def from_videos(cls, videos: Iterable["VideoSequence"]) -> "SaliencyDataset":
        """Every annotated frame of `videos` as a still image, its mask as the still's mask.

        The still-image steps then train the backbone and saliency side output on
        single frames of the training videos themselves: with no MSRA10K or DUTS
        on the machine, this is the still stream of the shipped DAVIS recipe.
        Frames without a mask are left out.

        Args:
            videos: :class:`~cosnet_tf.data.VideoSequence` objects, e.g. a
                :class:`~cosnet_tf.data.DavisDataset`.

        Raises:
            ValueError: `videos` is empty, or none of its frames has a mask.

        Example:
            >>> import tempfile
            >>> from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator
            >>> root = SyntheticVideoGenerator(num_sequences=2, num_frames=3,
            ...                                image_size=(32, 32)).write_davis(tempfile.mkdtemp())
            >>> stills = SaliencyDataset.from_videos(DavisDataset(root))
            >>> len(stills), stills.stems[:2]
            (6, ['synthetic-000/00000', 'synthetic-000/00001'])
        """
        videos = list(videos)
        names = [video.name for video in videos]
        stems, image_paths, mask_paths = [], [], []
        for video in videos:
            for frame, mask in zip(video.frame_paths, video.mask_paths):
                if mask is not None:
                    stems.append(f"{video.name}/{Path(frame).stem}")
                    image_paths.append(frame)
                    mask_paths.append(mask)
        if not stems:
            raise ValueError(f"no annotated frame in the videos {_describe(names)}" if names else "no videos given")
        dataset = cls.__new__(cls)
        dataset.image_dir = dataset.mask_dir = None
        dataset.videos = names
        dataset.stems, dataset.image_paths, dataset.mask_paths = stems, image_paths, mask_paths
        return dataset

    def __len__(self) -> int:
        return len(self.stems)

    def __repr__(self) -> str:
        if self.image_dir is None:
            return f"SaliencyDataset.from_videos({len(self.videos)} videos, images={len(self)})"
        return (f"SaliencyDataset(image_dir='{self.image_dir}', mask_dir='{self.mask_dir}', "
                f"images={len(self)})")
