"""Files the package carries: `cosnet demo`'s clip and its attribution (ATTRIBUTION.md).

The clip is 40 frames (640x360, 12.5 frames/s) of Big Buck Bunny, (c) Blender Foundation,
CC BY 3.0: `segment_video(demo_clip_path())` segments it with the shipped model.
"""
import os

#: The bundled clip's file name (in this package).
DEMO_CLIP = "bigbuckbunny_clip.mp4"


def demo_clip_path():
    """The path of the bundled clip (a file of the installed package or of the checkout).

    Example:
        >>> os.path.basename(demo_clip_path()), os.path.getsize(demo_clip_path()) < 1_000_000
        ('bigbuckbunny_clip.mp4', True)
    """
    from importlib import resources

    return os.fspath(resources.files(__name__) / DEMO_CLIP)
