"""The per-query work of video segmentation, with a COSNet in this process."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from cosnet_tf.inference.input_size import resolve_input_size
from cosnet_tf.layers.resize import resize_bilinear
from cosnet_tf.models.inference_graphs import InferenceGraphs


def segment_at_frame_size(model, query, references, model_size, frame_size=None, fusion=None):
    """[B, H, W, 1] probabilities of queries encoded at ``model_size``, at their frame's size.

    The model segments at its input size (Eq. 13 through ``model.segment``), then the
    probabilities are resized bilinearly to ``frame_size`` (None: keep the input size), as the
    authors' test script does. `InferenceCore` (`cosnet segment`), the exported SavedModel's
    signatures (`cosnet serve`, `cosnet predict`) and the explainer (`cosnet explain`) all segment
    through this function, so a served model gives `cosnet segment`'s masks; sizes may be tensors
    known only in a graph (resizing to the same size is exact).
    """
    probability = model.segment(query, references, output_size=model_size, fusion=fusion)
    if frame_size is None:
        return probability
    return resize_bilinear(probability, frame_size)


class InferenceCore:
    """Encodes frames and segments one query from features, with a model in this process.

    One of the two cores `stream_video` drives (the other, `ServedCore`, calls
    a model server with the same three methods): `encode` puts frames through
    the backbone once, `stack_references` prepares a query's N reference
    feature maps, `segment` gives the query's probabilities at its frame's
    resolution (Eq. 13 through `model.segment`).

    Frames are resized (bilinear) to the model's input size (`input_size`) and
    the probabilities back to the frame size, as the authors' script does.

    Args:
        model: a `COSNet` (anything with its ``encode``, ``segment`` and
            ``inference_size``).
        fusion: ``"attention"`` (Eq. 13), ``"prediction"`` or ``"joint"``; None: the model's own
            (``model.reference_fusion``).
        input_size, short_side: the model's input, see
            :func:`~cosnet_tf.inference.input_size.resolve_input_size`.
        reference_pool: K > 1 average-pools reference features K x K first.
        compile: run through ``tf.function`` graphs, kept on the model
            (``model.inference_graphs``); False runs eagerly (debugging).
        flip: test-time flip averaging: every frame is also encoded mirrored
            left-right, each query is segmented twice (as is, from its
            references' features; mirrored, from the features of its mirrored
            references) and the two probabilities averaged after the mirrored
            one is flipped back. Twice the model's work. `encode` then gives
            both features side by side on the channel axis (2 x the model's).

    Example:

    >>> import numpy as np
    >>> from cosnet_tf import COSNet
    >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
    >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
    ...                                         aspp_filters=16, output_filters=16)
    >>> core = InferenceCore(COSNet(backbone, head_filters=16), input_size=(32, 32))
    >>> features = core.encode(np.zeros((3, 40, 56, 3), np.uint8))
    >>> tuple(features.shape)
    (3, 2, 2, 16)
    >>> core.segment(features[:1], core.stack_references(features[1:]), (40, 56)).shape
    (40, 56)
    """

    def __init__(self, model, fusion=None, input_size=None, short_side=None, reference_pool=1,
                 compile=True, flip=False):
        self.model = model
        self.flip = bool(flip)
        self.fusion = fusion
        self.input_size = input_size
        self.short_side = short_side
        self.reference_pool = int(reference_pool)
        self.compile = bool(compile)
        graphs = getattr(model, "inference_graphs", None)
        # A model without its own graphs (any object with COSNet's methods): this core keeps them.
        self._graphs = graphs if isinstance(graphs, InferenceGraphs) else InferenceGraphs()

    def model_size(self, frame_size):
        """The (height, width) the model sees for frames of ``frame_size``."""
        return resolve_input_size(self.model, frame_size, self.input_size, self.short_side)

    def _function(self, key, build):
        if not self.compile:
            return build()
        return self._graphs.get(key, build)

    def encode(self, frames):
        """uint8 frames [B, H, W, 3] -> features [B, h, w, C] at the model's input size."""
        model_size = self.model_size(tuple(frames.shape[1:3]))
        resize = tuple(frames.shape[1:3]) != tuple(model_size)
        model, flip = self.model, self.flip

        # Inner names differ from the methods': autograph finds a function's source by its name.
        def build():
            def encode_frames(frames, size):
                x = tf.cast(frames, tf.float32)
                if resize:
                    x = tf.image.resize(x, size, method="bilinear")
                if not flip:
                    return model.encode(x)
                # One backbone call for the frames and their mirror images; the store keeps both as one map.
                features = model.encode(tf.concat([x, x[:, :, ::-1]], axis=0))
                return tf.concat(tf.split(features, 2, axis=0), axis=-1)

            return encode_frames

        size = tf.constant(model_size, tf.int32)
        return self._function(("encode", resize, flip), build)(tf.convert_to_tensor(frames), size)

    def stack_references(self, reference_maps):
        """N reference features [h, w, C] -> [1, N, h', w', C], pooled K x K once per reference set."""
        reference_maps = tf.stack(list(reference_maps)) if isinstance(reference_maps, list) else reference_maps
        if self.reference_pool > 1:
            reference_maps = tf.nn.avg_pool2d(reference_maps, self.reference_pool, self.reference_pool, "SAME")
        return reference_maps[None]

    def segment(self, query, references, frame_size, model_size=None):
        """float32 probabilities [H, W] of one query [1, h, w, C] from stacked references (or None).

        `model_size`: the input size the features were encoded at, when not
        this core's for `frame_size` (features encoded by another segmenter).
        """
        frame_size = tuple(int(v) for v in frame_size)
        model_size = self.model_size(frame_size) if model_size is None else tuple(model_size)
        count = 0 if references is None else int(references.shape[1])
        resize = tuple(model_size) != frame_size
        model, fusion, flip = self.model, self.fusion, self.flip

        def build():
            def segment_once(query, references, model_size, frame_size):
                probability = segment_at_frame_size(
                    model, query, references, model_size, frame_size if resize else None, fusion
                )
                return probability[0, :, :, 0]

            def segment_query(query, references, model_size, frame_size):
                if not flip:
                    return segment_once(query, references, model_size, frame_size)
                # The first half of the channels: the frames as they are; the second: their mirror images.
                halves = [tf.split(x, 2, axis=-1) if x is not None else (None, None) for x in (query, references)]
                plain = segment_once(halves[0][0], halves[1][0], model_size, frame_size)
                mirrored = segment_once(halves[0][1], halves[1][1], model_size, frame_size)
                return 0.5 * (plain + mirrored[:, ::-1])

            return segment_query

        # N is part of the key: one summary per reference, N known to the trace.
        function = self._function(("segment", fusion, count, resize, flip), build)
        probability = function(
            query, references, tf.constant(model_size, tf.int32), tf.constant(frame_size, tf.int32)
        )
        return np.asarray(probability, dtype=np.float32)
