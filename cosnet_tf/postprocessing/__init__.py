"""Post-processing of predicted foreground probability maps.

* :func:`dense_crf`: two-label fully connected CRF refinement of one frame
  (COSNet settings by default); :class:`DenseCRF` holds the settings;
  :func:`crf_map` refines many frames over several processes;
  :func:`refine_stream` refines a stream of segmented frames as they come.
"""
from cosnet_tf.postprocessing.crf import DenseCRF, crf_map, dense_crf
from cosnet_tf.postprocessing.crf_stream import refine_stream

__all__ = ["DenseCRF", "crf_map", "dense_crf", "refine_stream"]
