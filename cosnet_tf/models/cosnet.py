"""COSNet: the co-attention Siamese network (Section 3.2)."""
import os

import keras
from keras import ops

from cosnet_tf.layers import COATTENTION_VARIANTS, CoAttentionGate, SegmentationHead
from cosnet_tf.models.inference_graphs import InferenceGraphs
from cosnet_tf.models.presets import TRAINED_PRESETS, build_preset_backbone, trained_preset_path
from cosnet_tf.utils.choices import FUSIONS
from cosnet_tf.utils.validation import positive_int

#: A backbone's output names: "embedding" (V) and, optionally, "low_level" (for the heads' decoder alone).
BACKBONE_OUTPUTS = ("embedding", "low_level")


def _frame_size(frames):
    shape = ops.shape(frames)
    return shape[1], shape[2]


def _kept(tensor, keep):
    """`tensor` ([B, h, w, C]) with the samples whose `keep` ([B] of 0/1, or None: all) is 0 zeroed."""
    if keep is None:
        return tensor
    return tensor * ops.reshape(ops.cast(keep, tensor.dtype), (-1, 1, 1, 1))


def fuse_gated_summaries(gated_summary, count, zero):
    """Eq. 13: the mean of the gated summaries ``gated_summary(i)`` of N = ``count`` references.

    The one place the N summaries are fused: `COSNet.segment` (so `cosnet
    segment`, the explainer and the exported signatures) and
    `COSNet.group_forward` (training on groups) both call it. The summaries are
    added one at a time, so memory holds one at once, and ``count`` may be known
    only at run time (a scalar tensor); N = 0 gives ``zero``, the frame-by-frame
    baseline.

    Args:
        gated_summary: maps a reference index (an int or a scalar tensor) to
            its gated summary, shaped like ``zero``.
        count: N, a Python int or a scalar integer tensor.
        zero: zeros shaped [B, h, w, C] like one summary.

    Example:

    >>> import numpy as np
    >>> summaries = np.arange(6, dtype="float32").reshape(3, 1, 1, 1, 2)
    >>> np.asarray(fuse_gated_summaries(lambda i: summaries[i], 3, np.zeros((1, 1, 1, 2), "float32"))).ravel()
    array([2., 3.], dtype=float32)
    """
    total = ops.fori_loop(0, count, lambda i, acc: acc + gated_summary(i), zero)
    return total / ops.cast(ops.maximum(count, 1), total.dtype)


def _named_outputs(backbone):
    """The backbone's symbolic outputs by name: a single output is the "embedding"."""
    outputs = getattr(backbone, "output", None)
    if outputs is None:
        raise ValueError("The backbone must be a built Keras model with a known channel count.")
    if not isinstance(outputs, dict):
        outputs = {"embedding": outputs}
    unknown = sorted(set(outputs) - set(BACKBONE_OUTPUTS))
    if "embedding" not in outputs or unknown:
        raise ValueError(
            f"The backbone's outputs must be named {BACKBONE_OUTPUTS} (\"embedding\" required); got {sorted(outputs)}."
        )
    if any(output.shape[-1] is None for output in outputs.values()):
        raise ValueError("The backbone must be a built Keras model with a known channel count.")
    return outputs


def _zero_summary_inputs(head, channels):
    """Starts a head's weights on the summary half of X = [Z, V] (Eq. 10) at zero.

    A new model then predicts from V alone, as its pretrained backbone does,
    and the summary enters only as its weights grow along the loss gradient.
    Why: random weights there make an untrained summary noise at the head's
    input, and training then shuts the gate (Eq. 8) and with it the gradient
    to the co-attention (see docs/research-log.md).
    """
    kernel = head.first_layer.kernel
    kernel.assign(kernel * (1.0 - head.leading_input_mask(channels)).astype(kernel.dtype))


def read_saved_cosnet(path):
    """The COSNet saved at `path` (`.keras`, not compiled), with errors that name the file.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: a file Keras cannot read, or a saved model that is not a COSNet.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # a zip Keras cannot read, an unknown class, ...: one message naming the file
        raise ValueError(f"{path} is not a readable .keras model ({error})") from error
    if not isinstance(model, COSNet):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a COSNet")
    return model


@keras.saving.register_keras_serializable(package="cosnet_tf")
class COSNet(keras.Model):
    """The co-attention Siamese network for unsupervised video object segmentation.

    Three cascaded parts (Section 3.2): a DeepLabv3 feature embedding shared by
    both frames (`backbone`), a co-attention module (vanilla Eq. 1-3,
    symmetric Eq. 4 or channel-wise Eq. 5, with the both-way softmax and
    attention summaries of Eq. 6-7 and the shared self-gate of Eq. 8-9), and a
    segmentation module per branch reading `X = [Z, V]` (Eq. 10). A 1x1
    saliency side output on the embedding serves the still-image stream.

    Called on a pair of frames (a dict with "frame_a" and "frame_b", or a
    2-tuple; RGB, values 0-255, NHWC, both frames of one size) it returns a
    dict of foreground probabilities at the input size:
    `pred_a`, `pred_b` (Eq. 10 through the heads) and `saliency_a`,
    `saliency_b` (side output). One set of backbone weights serves both.

    At test time, `encode` computes each frame's embedding once and `segment`
    segments a query from the embeddings of N >= 0 reference frames, fusing
    the gated attention summaries (Eq. 13, `fusion="attention"`, the paper's
    choice), the N predictions (`fusion="prediction"`, what the authors' test
    script does), or attending to all N references at once (`fusion="joint"`:
    one softmax over every position of every reference, one gated summary).
    With N = 0 there is no co-attention: the summary Z is zero and the head
    sees only the frame's own features (the frame-by-frame baseline of Table 2). With `coattention=None` the model has
    no co-attention module at all and its heads read V alone.

    Args:
        backbone: a Keras model mapping RGB frames to NHWC features, e.g.
            `ResNetDeepLabV3Backbone` or `MobileNetV2DeepLabV3Backbone`: its
            outputs named as in `BACKBONE_OUTPUTS` (a dict), or a single
            output, the embedding.
        coattention: "vanilla", "symmetric", "channel" or None.
        coattention_config: extra arguments of the co-attention layer
            (`orthogonality_weight` for "symmetric", `hidden_units` for
            "channel").
        gate_bias: whether the gate has the bias b_f of Eq. 8 (the authors'
            released model has none).
        head_filters, head_depth: the segmentation module (`SegmentationHead`).
        decoder_filters: with a backbone that has a "low_level" output
            (`MobileNetV2DeepLabV3Backbone(low_level_block=...)`), the width of
            the heads' DeepLabv3+ decoder, which draws the mask at that finer
            stride. The low-level features reach only the decoder: the
            co-attention, the gate and the saliency side output read the
            "embedding". Unused with other backbones.
        batch_norm_epsilon, batch_norm_momentum: of the heads' batch norms.
        synchronized_batch_norm: the heads' batch norms take statistics over
            the global batch of a `tf.distribute` strategy instead of each
            replica's part (training only; off by default).
        inference_size: (height, width) the model was trained at, or None. The
            model itself takes any size; video segmentation resizes frames to
            this size when it is set (`cosnet train` records it) and
            `inference_short_side` is not.
        inference_short_side: if set, video segmentation scales each frame so
            its short side is about this many pixels, keeping its aspect ratio
            (both sides multiples of the output stride; see
            `cosnet_tf.inference.input_size`). Takes precedence over
            `inference_size`.
        reference_fusion: how this model fuses N references, one of
            `FUSIONS`: in training on groups (`group_forward`) and in
            `segment` when it is given no `fusion`. "attention" (the
            default) is Eq. 13, "joint" one softmax over all references'
            positions (see `CoAttention.summarize_query_jointly`).

    Example:

    >>> import numpy as np
    >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
    >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
    ...                                         aspp_filters=32, output_filters=32)
    >>> model = COSNet(backbone, coattention="vanilla", head_filters=32)
    >>> frames = np.random.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    >>> out = model({"frame_a": frames, "frame_b": frames[::-1]})
    >>> tuple(out["pred_a"].shape)
    (2, 64, 64, 1)
    >>> query = model.encode(frames[:1])
    >>> references = model.encode(frames)[None]            # [B=1, N=2, h, w, C]
    >>> tuple(model.segment(query, references, output_size=(64, 64)).shape)
    (1, 64, 64, 1)
    """

    def __init__(
        self,
        backbone,
        coattention="vanilla",
        coattention_config=None,
        gate_bias=True,
        head_filters=256,
        head_depth=1,
        decoder_filters=64,
        batch_norm_epsilon=1e-5,
        batch_norm_momentum=0.9,
        synchronized_batch_norm=False,
        inference_size=None,
        inference_short_side=None,
        reference_fusion="attention",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if coattention is not None and coattention not in COATTENTION_VARIANTS:
            raise ValueError(
                f"Unknown co-attention variant {coattention!r}; expected one of "
                f"{sorted(COATTENTION_VARIANTS)} or None."
            )
        if reference_fusion not in FUSIONS:
            raise ValueError(f"Unknown reference_fusion {reference_fusion!r}; expected one of {FUSIONS}.")
        outputs = _named_outputs(backbone)
        self.backbone = backbone
        self.reference_fusion = reference_fusion
        self.coattention_variant = coattention
        self.coattention_config = dict(coattention_config or {})
        self.gate_bias = bool(gate_bias)
        self.head_filters = int(head_filters)
        self.head_depth = int(head_depth)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.attention_channels = int(outputs["embedding"].shape[-1])
        self.low_level_channels = int(outputs["low_level"].shape[-1]) if "low_level" in outputs else 0
        # `encode` gives one tensor per frame, the embedding then the low-level features.
        self.feature_channels = self.attention_channels + self.low_level_channels
        self.decoder_filters = int(decoder_filters)
        self.inference_size = None if inference_size is None else tuple(int(v) for v in inference_size)
        self.inference_short_side = (
            None if inference_short_side is None else positive_int("inference_short_side", inference_short_side)
        )

        head_args = dict(
            filters=self.head_filters,
            depth=self.head_depth,
            batch_norm_epsilon=self.batch_norm_epsilon,
            batch_norm_momentum=self.batch_norm_momentum,
            synchronized_batch_norm=self.synchronized_batch_norm,
        )
        if self.low_level_channels:
            head_args.update(
                decoder_filters=self.decoder_filters, low_level_factor=int(backbone.low_level_factor)
            )
        self.saliency_head = SegmentationHead(depth=0, name="saliency_head")
        self.head_a = SegmentationHead(name="head_a", **head_args)
        self.head_b = SegmentationHead(name="head_b", **head_args)
        if coattention is None:
            self.coattention = None
            self.gate = None
        else:
            self.coattention = COATTENTION_VARIANTS[coattention](
                name="coattention", **self.coattention_config
            )
            self.gate = CoAttentionGate(use_bias=self.gate_bias, name="gate")
        # Compiled inference functions (`VideoSegmenter`'s), built on first use.
        self.inference_graphs = InferenceGraphs()
        self._create_extra_state()
        self.build()

    def _create_extra_state(self):
        """Hook for subclasses to create trackable state (metrics, layers) before the
        model is built and locked at the end of `__init__`."""

    def build(self, input_shape=None):
        # Built at construction: every weight shape follows from the channel counts alone.
        if self.built:
            return
        c = self.attention_channels
        features = (None, None, None, c)
        self.saliency_head.build(features)
        head_in = (None, None, None, c if self.coattention is None else 2 * c)
        low_level = (None, None, None, self.low_level_channels) if self.low_level_channels else None
        self.head_a.build(head_in, low_level)
        self.head_b.build(head_in, low_level)
        if self.coattention is not None:
            self.coattention.build(features, features)
            self.gate.build(features)
            for head in (self.head_a, self.head_b):
                _zero_summary_inputs(head, c)
        self.built = True

    # ------------------------------------------------------------------ parts
    def encode(self, frames, training=False):
        """The features of each frame, [B, H, W, 3] RGB -> [B, h, w, C]: what `segment` reads.

        One tensor per frame, so that it can be cached, stacked and served: the
        backbone's "embedding" (V of Eq. 1), followed by its "low_level" output
        when it has one (`feature_channels` in all). `attention_features` and
        `low_level_features` split it again.
        """
        frames = ops.convert_to_tensor(frames)
        if len(frames.shape) != 4 or frames.shape[-1] != 3:
            raise ValueError(f"`frames` must be RGB NHWC [B, H, W, 3]; got shape {tuple(frames.shape)}.")
        outputs = self.backbone(frames, training=training)
        if not isinstance(outputs, dict):
            return outputs
        if "low_level" not in outputs:
            return outputs["embedding"]
        return ops.concatenate([outputs["embedding"], outputs["low_level"]], axis=-1)

    def attention_features(self, features):
        """The backbone's "embedding" in features from `encode`: what the co-attention compares (V of Eq. 1)."""
        if not self.low_level_channels:
            return features
        return features[..., : self.attention_channels]

    def low_level_features(self, features):
        """The backbone's "low_level" output in features from `encode` (None without one): the decoder's input."""
        return features[..., self.attention_channels :] if self.low_level_channels else None

    def saliency(self, features, output_size, training=False):
        """The still-image side output: foreground probability at `output_size`."""
        features = self.attention_features(features)
        return self.saliency_head(features, output_size=output_size, training=training)

    def _check_features(self, name, features, rank):
        if len(features.shape) != rank or features.shape[-1] != self.feature_channels:
            raise ValueError(
                f"`{name}` must have rank {rank} and {self.feature_channels} channels "
                f"(from `encode`); got shape {tuple(features.shape)}."
            )

    def _predict(self, head, summary, features, output_size, training, return_logits, feature_keep=None):
        """The head on X = [Z, V] (Eq. 10), `features` being the whole embedding from `encode`.

        `feature_keep` ([B] of 0/1, optional) zeroes V in the head's input of some samples
        (X = [Z, 0]; the co-attention has already read V, and the decoder's low-level input stays).
        """
        v = _kept(self.attention_features(features), feature_keep)
        x = v if self.coattention is None else ops.concatenate([summary, v], axis=-1)
        return head(
            x, low_level=self.low_level_features(features), output_size=output_size, return_logits=return_logits,
            training=training,
        )

    # ------------------------------------------------------------------ pairs
    def call(self, inputs, training=None):
        if isinstance(inputs, dict):
            missing = [k for k in ("frame_a", "frame_b") if k not in inputs]
            if missing:
                raise ValueError(f"COSNet inputs lack {missing}; got keys {sorted(inputs)}.")
            frame_a, frame_b = inputs["frame_a"], inputs["frame_b"]
        elif isinstance(inputs, (list, tuple)) and len(inputs) == 2:
            frame_a, frame_b = inputs
        else:
            raise ValueError(
                "COSNet expects a pair of frames: {'frame_a': ..., 'frame_b': ...} or (frame_a, frame_b)."
            )
        return self.pair_forward(frame_a, frame_b, training=training)

    def pair_forward(self, frame_a, frame_b, training=None, summary_keep=None, feature_keep=None):
        """The Siamese forward pass of `call`.

        `summary_keep` ([B] of 0/1, optional) zeroes the gated summaries of
        some pairs, which makes those samples the N = 0 (no co-attention)
        case; the trainer uses it to teach the heads the frame-by-frame mode.
        `feature_keep` ([B, 2] of 0/1, optional: frame a, frame b) zeroes a
        frame's own features V in its head's input, which then reads the
        summary alone (the trainer's `query_feature_dropout`).
        """
        size_a, size_b = _frame_size(frame_a), _frame_size(frame_b)
        v_a = self.encode(frame_a, training=training)
        v_b = self.encode(frame_b, training=training)
        if self.coattention is None:
            z_a = z_b = None
        else:
            z_a, z_b = self.coattention(self.attention_features(v_a), self.attention_features(v_b))
            z_a, z_b = self.gate(z_a), self.gate(z_b)
            z_a, z_b = _kept(z_a, summary_keep), _kept(z_b, summary_keep)
        keep_a = keep_b = None
        if feature_keep is not None:
            keep_a, keep_b = feature_keep[:, 0], feature_keep[:, 1]
        return {
            "pred_a": self._predict(self.head_a, z_a, v_a, size_a, training, False, keep_a),
            "pred_b": self._predict(self.head_b, z_b, v_b, size_b, training, False, keep_b),
            "saliency_a": self.saliency(v_a, size_a, training=training),
            "saliency_b": self.saliency(v_b, size_b, training=training),
        }

    def group_forward(self, frames, training=None, summary_keep=None, feature_keep=None):
        """Segments every frame of a group of G frames of one video with the other G - 1 as
        its references, fused as at test time by `reference_fusion` (Eq. 13, the mean of the
        gated summaries, by default).

        Training with groups (`make_frame_pair_dataset(references=G - 1)`) lets the
        heads learn on the summaries that `segment` gives them with N references,
        not on single-reference ones. Every frame uses `head_a`, the head that
        `segment` runs.

        Args:
            frames: [B, G, H, W, 3], G >= 2 (static).
            summary_keep: [B] of 0/1, optional: zeroes the fused summaries of
                some groups (the N = 0 case, as in `pair_forward`).
            feature_keep: [B, G] of 0/1, optional: zeroes the own features V
                of some frames in their head's input (as in `pair_forward`).

        Returns:
            [B, G, H, W, 1] foreground probabilities. The co-attention runs once
            for each two frames of a group; the loss it adds (Eq. 12 of the
            symmetric variant) is the same at every call and counts once.
        """
        if len(frames.shape) != 5 or frames.shape[1] is None or frames.shape[1] < 2:
            raise ValueError(f"`frames` must be [B, G, H, W, 3] with a static G >= 2; got {tuple(frames.shape)}.")
        group = frames.shape[1]
        shape = ops.shape(frames)
        size = (shape[2], shape[3])
        features = self.encode(ops.reshape(frames, (-1, shape[2], shape[3], shape[4])), training=training)
        features = ops.reshape(features, (shape[0], group) + tuple(ops.shape(features)[1:]))
        features = [features[:, i] for i in range(group)]
        summaries = [[] for _ in range(group)]
        fusion = self.reference_fusion
        if self.coattention is not None:
            attended = [self.attention_features(f) for f in features]
            for i in range(group):
                if fusion == "joint":
                    others = ops.stack([attended[j] for j in range(group) if j != i], axis=1)
                    summaries[i].append(self.gate(self.coattention(attended[i], others, joint=True)))
                    continue
                # One affinity per two frames gives both their summaries (Eq. 6-7), as in a pair.
                for j in range(i + 1, group):
                    z_i, z_j = self.coattention(attended[i], attended[j])
                    summaries[i].append(self.gate(z_i))
                    summaries[j].append(self.gate(z_j))
        predictions = []
        for i, (query, gated) in enumerate(zip(features, summaries)):
            keep = None if feature_keep is None else feature_keep[:, i]

            def predict(summary):
                return self._predict(self.head_a, summary, query, size, training, False, keep)

            if gated and fusion == "prediction":
                predictions.append(ops.mean(ops.stack([predict(_kept(z, summary_keep)) for z in gated]), axis=0))
                continue
            summary = None
            if gated:
                stacked = ops.stack(gated)
                summary = fuse_gated_summaries(lambda k: stacked[k], len(gated), ops.zeros_like(gated[0]))
                summary = _kept(summary, summary_keep)
            predictions.append(predict(summary))
        return ops.stack(predictions, axis=1)

    # --------------------------------------------------- multi-reference test
    def gated_summaries(self, query_features, reference_features):
        """Gated summaries `Z_an * f_g(Z_an)` of a query for each of N references (Eq. 7-9).

        Args:
            query_features: [B, h, w, C].
            reference_features: [B, N, h', w', C].

        Returns:
            A list of N tensors [B, h, w, C] (N must be known statically).
        """
        self._check_features("query_features", query_features, 4)
        self._check_features("reference_features", reference_features, 5)
        n = reference_features.shape[1]
        if n is None:
            raise ValueError("The number of reference frames must be static here.")
        query = self.attention_features(query_features)
        references = self.attention_features(reference_features)
        return [self.gate(self.coattention.summarize_query(query, references[:, i])) for i in range(n)]

    def reference_attention(self, query_features, reference_features):
        """What each of N references does to a query (Eq. 6-9): what `cosnet explain` draws.

        Args:
            query_features: [B, h, w, C] from `encode`.
            reference_features: [B, N, h', w', C] from `encode` (N static).

        Returns:
            A list of N pairs: the gate's confidence f_g(Z) on the query's
            summary ([B, h, w], Eq. 8) and the query's attention over the
            reference's positions ([B, h*w, h'*w'], each row a distribution, Eq. 6).
        """
        self._check_features("query_features", query_features, 4)
        self._check_features("reference_features", reference_features, 5)
        query = self.attention_features(query_features)
        references = self.attention_features(reference_features)
        maps = []
        for i in range(reference_features.shape[1]):
            _, confidence = self.gate(self.coattention.summarize_query(query, references[:, i]), return_confidence=True)
            maps.append((confidence[..., 0], self.coattention.attention(query, references[:, i])))
        return maps

    def segment(
        self,
        query_features,
        reference_features=None,
        output_size=None,
        fusion=None,
        return_logits=False,
        training=False,
        reference_mask=None,
    ):
        """Segments query frames given the embeddings of N >= 0 reference frames (Eq. 13).

        N may be known only at run time (a `None` dimension in a traced graph,
        N = 0 included): the references are attended to in turn in a loop, so
        memory holds one (h*w) x (h'*w') affinity at a time, whatever N, and
        fused by `fuse_gated_summaries` (Eq. 13). `cosnet segment`, the
        explainer and the exported SavedModel signatures all call this method.

        Args:
            query_features: [B, h, w, C] from `encode`.
            reference_features: [B, N, h', w', C] from `encode`, or [1, N, h', w', C]
                to share one set of references between every query; None or
                N = 0 for the frame-by-frame baseline. Ignored when the model
                has no co-attention.
            output_size: (height, width) of the query frame (a tensor is fine);
                None keeps the feature resolution.
            fusion: "attention" (mean of the N gated summaries, Eq. 13),
                "prediction" (mean of the N probabilities) or "joint" (one
                softmax over the positions of all N references, one gated
                summary); None: the model's `reference_fusion`.
            return_logits: pre-sigmoid output (not with "prediction" fusion:
                the mean of probabilities has no single logit).
            reference_mask: [B, N] (or [1, N]) of 0/1, optional ("attention"
                and "joint" fusion): a 0 marks a padded or absent reference,
                which then counts as if it were not there (weight 0 in the
                joint softmax; left out of the mean of Eq. 13).

        Returns:
            [B, H, W, 1] foreground probabilities (or logits).
        """
        fusion = self.reference_fusion if fusion is None else fusion
        if fusion not in FUSIONS:
            raise ValueError(f"Unknown fusion {fusion!r}; expected one of {FUSIONS}.")
        if return_logits and fusion == "prediction":
            raise ValueError("`return_logits` is not defined for prediction fusion.")
        if reference_mask is not None and fusion == "prediction":
            raise ValueError("`reference_mask` needs attention or joint fusion.")
        query = ops.convert_to_tensor(query_features)
        self._check_features("query_features", query, 4)

        def predict(summary, logits=False):
            return self._predict(self.head_a, summary, query, output_size, training, logits)

        if self.coattention is None:
            return predict(None, return_logits)
        attended = self.attention_features(query)
        no_references = ops.zeros_like(attended)  # N = 0: a zero summary, the frame-by-frame baseline
        if reference_features is None:
            return predict(no_references, return_logits)
        references = ops.convert_to_tensor(reference_features, dtype=query.dtype)
        self._check_features("reference_features", references, 5)
        n = ops.shape(references)[1]  # a Python int when static, else a scalar tensor
        if isinstance(n, int) and n == 0:
            return predict(no_references, return_logits)
        batch = ops.shape(query)[0]
        attended_references = self.attention_features(references)  # once, not per reference
        if fusion == "joint":
            summary = self.coattention.summarize_query_jointly(attended, attended_references, reference_mask)
            return predict(self.gate(summary), return_logits)
        weights = None
        if reference_mask is not None:
            weights = ops.broadcast_to(ops.cast(reference_mask, attended.dtype), (batch, n))

        def gated_summary(i):
            reference = attended_references[:, i]  # [B or 1, h', w', C]
            reference = ops.broadcast_to(reference, (batch,) + tuple(ops.shape(reference)[1:]))
            summary = self.gate(self.coattention.summarize_query(attended, reference))
            if weights is not None:
                summary = summary * ops.reshape(weights[:, i], (-1, 1, 1, 1))
            return ops.reshape(summary, ops.shape(attended))  # keeps the loop's static shape

        if fusion == "attention":
            # N = 0 (known only at run time) leaves the sum at zero: the baseline again.
            summary = fuse_gated_summaries(gated_summary, n, no_references)
            if weights is not None:  # the mean over the references present, not over all N
                present = ops.maximum(ops.sum(weights, axis=1), 1.0)
                summary = summary * ops.reshape(ops.cast(ops.maximum(n, 1), summary.dtype) / present, (-1, 1, 1, 1))
            return predict(summary, return_logits)

        def fused_predictions():
            first = predict(gated_summary(0))
            total = ops.fori_loop(1, n, lambda i, acc: acc + predict(gated_summary(i)), first)
            return total / ops.cast(n, total.dtype)

        if isinstance(n, int):
            return fused_predictions()
        return ops.cond(n > 0, fused_predictions, lambda: predict(no_references))

    # ------------------------------------------------------------ utilities
    def get_config(self):
        config = super().get_config()
        config.update(
            backbone=keras.saving.serialize_keras_object(self.backbone),
            coattention=self.coattention_variant,
            coattention_config=self.coattention_config,
            reference_fusion=self.reference_fusion,
            gate_bias=self.gate_bias,
            head_filters=self.head_filters,
            head_depth=self.head_depth,
            decoder_filters=self.decoder_filters,
            batch_norm_epsilon=self.batch_norm_epsilon,
            batch_norm_momentum=self.batch_norm_momentum,
            synchronized_batch_norm=self.synchronized_batch_norm,
            inference_size=None if self.inference_size is None else list(self.inference_size),
            inference_short_side=self.inference_short_side,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, backbone_config=None, backbone_weights=None, **model_overrides):
        """Loads a trained preset or a saved `.keras` model, or builds an architecture preset.

        Trained presets (`cosnet_tf.models.presets.TRAINED_PRESETS`: "cosnet_mobilenetv2_davis",
        "cosnet_mobilenetv2_davis_none") load the shipped network with its weights; architecture
        presets (`PRESETS`: "mobilenetv2", "resnet50", "resnet101_official") build an untrained one.

        Called on a subclass (e.g. `COSNetTrainer.from_preset`), it builds that
        subclass; `model_overrides` are its constructor's arguments
        (coattention, head_depth, ...; `coattention_config` is merged into the
        preset's).

        Example:

        >>> model = COSNet.from_preset("mobilenetv2", coattention="symmetric",
        ...                            backbone_config={"alpha": 0.35, "aspp_filters": 32, "output_filters": 32})
        >>> model.coattention_variant, model.feature_channels
        ('symmetric', 32)
        """
        if isinstance(preset, str) and preset in TRAINED_PRESETS:
            preset = trained_preset_path(preset)  # loaded below as the saved model it is
        if isinstance(preset, (str, os.PathLike)) and str(preset).endswith(".keras"):
            if backbone_config or backbone_weights or model_overrides:
                raise ValueError("A saved .keras model takes no overrides; build a preset instead.")
            if not os.path.exists(preset):
                raise FileNotFoundError(f"Saved model not found: {preset}")
            return keras.saving.load_model(preset)
        if isinstance(backbone_weights, (str, os.PathLike)) and str(backbone_weights).endswith(".keras"):
            backbone_weights = read_saved_cosnet(backbone_weights).backbone  # a trained model's backbone
        backbone, model_config = build_preset_backbone(preset, backbone_config, backbone_weights)
        coattention_config = model_config.pop("coattention_config", {})
        coattention_config.update(model_overrides.pop("coattention_config", None) or {})
        model_config.update(model_overrides)
        if coattention_config:
            model_config["coattention_config"] = coattention_config
        return cls(backbone, **model_config)
