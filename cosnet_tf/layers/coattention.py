"""The shared part of every COSNet co-attention variant (Eq. 1, 6, 7)."""
import keras
import numpy as np
from keras import ops


def _flatten_positions(features):
    """[B, H, W, C] -> [B, H*W, C]: the paper's V in R^{C x WH}, transposed."""
    shape = ops.shape(features)
    return ops.reshape(features, (shape[0], shape[1] * shape[2], shape[3]))


def _masked_logit(dtype):
    """A logit whose softmax weight is exactly 0 beside any real one, finite in `dtype`."""
    return -6.0e4 if str(dtype).endswith("float16") and "bfloat" not in str(dtype) else -1.0e9


def _normalize(features):
    """Centred over each frame's positions, then unit length at each position."""
    centred = features - ops.mean(features, axis=(1, 2), keepdims=True)
    return centred / (ops.norm(centred, axis=-1, keepdims=True) + 1e-6)


class CoAttention(keras.layers.Layer):
    """Base class of the co-attention layers: affinity, both-way softmax, summaries.

    A variant only defines `affinity(v_a, v_b)`, the matrix `A = S^T` of Eq. 1
    with rows over the positions of frame a and columns over those of frame b
    (the layout of the authors' code: `A[i, j] = V_b(j)^T W V_a(i)`). This class
    then normalises it both ways (Eq. 6) and forms the attention summaries
    (Eq. 7):

        Z_a = V_b S^c   (each position of a attends over all positions of b)
        Z_b = V_a S^r   (each position of b attends over all positions of a)

    Inputs are NHWC feature maps `[v_a, v_b]` of equal channel count; the two
    frames may differ in spatial size. The outputs `[z_a, z_b]` have the shapes
    of `v_a` and `v_b` and are *not* gated: the gate (Eq. 8-9) is
    `CoAttentionGate`, shared by both branches.

    `summarize_query(v_a, v_b)` computes only `Z_a`, which is all a query frame
    needs at test time (Eq. 13) and saves half of the softmax and summary work.

    Joint attention over N references (`summarize_query_jointly`, or
    `layer(v_a, references, joint=True)`): Eq. 6-7 with b the union of the
    positions of all N reference frames. Each reference's affinity is the
    variant's own (for the channel-wise variant too: Eq. 5 still compares
    every position with every position, with D_b from that reference), then
    one softmax runs over all N*h'*w' positions and Z_a is one
    attention-weighted sum over them, instead of the mean of N per-reference
    summaries (Eq. 13). A reference masked out gets weight exactly 0.

    Args:
        cosine: compute the affinity on normalised features and multiply it
            by a learned scale (`temperature`), instead of on the raw
            features. Each frame's features are centred (the mean over its
            positions removed: ASPP's image-pooling branch adds the same
            vector at every position, which carries no "where") and each
            position's feature is scaled to unit length, so the affinity is
            a bounded similarity whose sharpness is learned. The summaries
            (Eq. 7) still average the raw features. Off reproduces the
            authors' network exactly. Why it exists: raw DeepLab features
            give a softmax saturated on arbitrary positions and vanishing
            gradients to W (see docs/research-log.md).
        initial_temperature: the starting scale of the cosine affinity.
        no_match: add a "no match" slot to the softmax of Eq. 6 (cosine only),
            with the learned logit `temperature * match_threshold`. A
            position whose best similarity in the other frame stays below
            the threshold puts its weight there, and its summary shrinks
            towards zero, so |Z| says whether a position recurs. Without
            it, the softmax always spreads a full unit of weight, and a
            position that matches nothing still gets a summary as large as
            one that does.
        initial_match_threshold: starting similarity threshold of `no_match`.
        recurrence_gate: scale each position's summary by
            `sigmoid(sharpness * (r(i) - threshold))` (cosine only), where
            `r(i) = sum_j S(i, j) cos(i, j)` is the similarity of position i to
            the positions it attends to, and sharpness and threshold are
            learned. A position that recurs in the other frame keeps its
            summary; one that matches nothing well gets a small one. The
            head of Eq. 10 reads the summary linearly, so it cannot compare
            Z(i) with V(i) itself; this hands it that comparison (see
            docs/research-log.md). Not in the paper.
        initial_recurrence_threshold: starting threshold of `recurrence_gate`.
        initial_recurrence_sharpness: starting sharpness of `recurrence_gate`.
    """

    def __init__(self, cosine=False, initial_temperature=10.0, no_match=False,
                 initial_match_threshold=0.5, recurrence_gate=False,
                 initial_recurrence_threshold=0.3, initial_recurrence_sharpness=10.0, **kwargs):
        super().__init__(**kwargs)
        if initial_temperature <= 0:
            raise ValueError(f"`initial_temperature` must be > 0, got {initial_temperature}.")
        self.channels = None
        self.cosine = bool(cosine)
        self.initial_temperature = float(initial_temperature)
        self.no_match = bool(no_match)
        self.initial_match_threshold = float(initial_match_threshold)
        if self.no_match and not self.cosine:
            raise ValueError("`no_match` needs `cosine=True` (a threshold on a bounded similarity).")
        self.recurrence_gate = bool(recurrence_gate)
        self.initial_recurrence_threshold = float(initial_recurrence_threshold)
        self.initial_recurrence_sharpness = float(initial_recurrence_sharpness)
        if self.recurrence_gate and not self.cosine:
            raise ValueError("`recurrence_gate` needs `cosine=True` (a threshold on a bounded similarity).")
        if self.initial_recurrence_sharpness <= 0:
            raise ValueError(f"`initial_recurrence_sharpness` must be > 0, got {initial_recurrence_sharpness}.")

    def _check_shapes(self, a_shape, b_shape):
        for name, shape in (("v_a", a_shape), ("v_b", b_shape)):
            if len(shape) != 4:
                raise ValueError(
                    f"{self.__class__.__name__} expects NHWC feature maps; "
                    f"`{name}` has shape {tuple(shape)} (rank {len(shape)})."
                )
        if a_shape[-1] is None or b_shape[-1] is None:
            raise ValueError(
                f"{self.__class__.__name__} needs a known channel count; got "
                f"v_a {tuple(a_shape)} and v_b {tuple(b_shape)}."
            )
        if a_shape[-1] != b_shape[-1]:
            raise ValueError(
                f"{self.__class__.__name__}: v_a has {a_shape[-1]} channels but "
                f"v_b has {b_shape[-1]}; both frames must come from one encoder."
            )
        if self.channels is not None and a_shape[-1] != self.channels:
            raise ValueError(
                f"{self.__class__.__name__} was built for {self.channels} channels "
                f"but got features with {a_shape[-1]}."
            )

    def build(self, v_a_shape, v_b_shape=None):
        v_b_shape = v_a_shape if v_b_shape is None else v_b_shape
        self._check_shapes(v_a_shape, v_b_shape)
        self.channels = int(v_a_shape[-1])
        self.build_weights(self.channels)
        if self.cosine:
            # Learned in log space: the scale stays positive and its steps are relative.
            self.log_temperature = self.add_weight(
                name="log_temperature",
                shape=(),
                initializer=keras.initializers.Constant(float(np.log(self.initial_temperature))),
            )
        if self.no_match:
            self.match_threshold = self.add_weight(
                name="match_threshold",
                shape=(),
                initializer=keras.initializers.Constant(self.initial_match_threshold),
            )
        if self.recurrence_gate:
            self.recurrence_threshold = self.add_weight(
                name="recurrence_threshold",
                shape=(),
                initializer=keras.initializers.Constant(self.initial_recurrence_threshold),
            )
            # Learned in log space, as the temperature: positive, relative steps.
            self.log_recurrence_sharpness = self.add_weight(
                name="log_recurrence_sharpness",
                shape=(),
                initializer=keras.initializers.Constant(float(np.log(self.initial_recurrence_sharpness))),
            )
        self.built = True

    @property
    def temperature(self):
        """The learned scale of the cosine affinity (None without `cosine`)."""
        return ops.exp(self.log_temperature) if self.cosine else None

    @property
    def recurrence_gate_weights(self):
        """The recurrence gate's weights: (threshold, log sharpness), or () without the gate."""
        return (self.recurrence_threshold, self.log_recurrence_sharpness) if self.recurrence_gate else ()

    def build_weights(self, channels):
        """Creates the variant's weights for `channels`-dimensional features."""

    def affinity(self, v_a, v_b):
        """Returns `A = S^T`, [B, H_a*W_a, H_b*W_b], from NHWC features."""
        raise NotImplementedError(
            f"{self.__class__.__name__} must implement `affinity` (Eq. 1, 4 or 5)."
        )

    def attention_logits(self, v_a, v_b):
        """The affinity the softmax of Eq. 6 reads: `affinity`, or its cosine form."""
        if not self.cosine:
            return self.affinity(v_a, v_b)
        return self.temperature * self.affinity(_normalize(v_a), _normalize(v_b))

    def _softmax(self, logits):
        """Eq. 6 over the last axis; with `no_match`, the "no match" slot's share is dropped."""
        if not self.no_match:
            return ops.softmax(logits, axis=-1)
        null = ops.ones_like(logits[..., :1]) * (self.temperature * self.match_threshold)
        return ops.softmax(ops.concatenate([logits, null], axis=-1), axis=-1)[..., :-1]

    def _summarize(self, logits, values):
        """Eq. 7 for the rows of `logits`: the summary, scaled by `recurrence_gate` if on."""
        attention = self._softmax(logits)
        summary = ops.matmul(attention, values)
        if not self.recurrence_gate:
            return summary
        # r(i): the attention-weighted cosine similarity; the logits are temperature * cosine.
        recurrence = ops.sum(attention * logits, axis=-1, keepdims=True) / self.temperature
        sharpness = ops.exp(self.log_recurrence_sharpness)
        return summary * ops.sigmoid(sharpness * (recurrence - self.recurrence_threshold))

    def attention(self, v_a, v_b):
        """S^c of Eq. 6: [B, H_a*W_a, H_b*W_b]; each row a distribution over b's positions
        (summing to less than 1 with `no_match`: the rest is the "no match" share)."""
        self._check_shapes(v_a.shape, v_b.shape)
        if not self.built:
            self.build(v_a.shape, v_b.shape)
        return self._softmax(self.attention_logits(v_a, v_b))

    def call(self, v_a, v_b, joint=False, reference_mask=None):
        if joint:  # v_b: N references [B, N, h', w', C]; only the query's Z_a
            return self.summarize_query_jointly(v_a, v_b, reference_mask)
        self._check_shapes(v_a.shape, v_b.shape)
        a = self.attention_logits(v_a, v_b)
        flat_a = _flatten_positions(v_a)
        flat_b = _flatten_positions(v_b)
        # Eq. 6-7: S^c normalises over b's positions per position of a, S^r over a's per position of b.
        z_a = self._summarize(a, flat_b)
        z_b = self._summarize(ops.transpose(a, (0, 2, 1)), flat_a)
        return ops.reshape(z_a, ops.shape(v_a)), ops.reshape(z_b, ops.shape(v_b))

    def summarize_query(self, v_a, v_b):
        """Only `Z_a` (Eq. 7) for query features `v_a` and reference `v_b`."""
        self._check_shapes(v_a.shape, v_b.shape)
        if not self.built:
            self.build(v_a.shape, v_b.shape)
        z_a = self._summarize(self.attention_logits(v_a, v_b), _flatten_positions(v_b))
        return ops.reshape(z_a, ops.shape(v_a))

    def _joint_logits(self, v_a, references, reference_mask=None):
        """Logits over all references' positions [B, h*w, N*h'*w'] and their values [B, N*h'*w', C].

        N folds into the batch, so each reference gets the variant's own affinity
        (normalised per frame in the cosine form) and N may be known only at run time.
        """
        a_shape, r_shape = ops.shape(v_a), ops.shape(references)
        batch, n = a_shape[0], r_shape[1]
        references = ops.broadcast_to(references, (batch,) + tuple(r_shape[1:]))
        positions = r_shape[2] * r_shape[3]
        queries = ops.broadcast_to(ops.expand_dims(v_a, 1), (batch, n) + tuple(a_shape[1:]))
        queries = ops.reshape(queries, (-1,) + tuple(a_shape[1:]))
        folded = ops.reshape(references, (-1,) + tuple(r_shape[2:]))
        logits = ops.reshape(self.attention_logits(queries, folded), (batch, n, a_shape[1] * a_shape[2], positions))
        if reference_mask is not None:
            keep = ops.reshape(ops.cast(reference_mask, "bool"), (-1, n, 1, 1))
            logits = ops.where(keep, logits, ops.cast(_masked_logit(logits.dtype), logits.dtype))
        logits = ops.reshape(ops.transpose(logits, (0, 2, 1, 3)), (batch, a_shape[1] * a_shape[2], n * positions))
        return logits, ops.reshape(references, (batch, n * positions, r_shape[4]))

    def _check_references(self, v_a, references, reference_mask):
        if len(references.shape) != 5:
            raise ValueError(
                f"{self.__class__.__name__}: joint attention takes references [B, N, h, w, C]; "
                f"got shape {tuple(references.shape)}."
            )
        self._check_shapes(v_a.shape, tuple(references.shape[:1]) + tuple(references.shape[2:]))
        if reference_mask is not None and len(reference_mask.shape) != 2:
            raise ValueError(f"`reference_mask` must be [B, N] of 0/1; got shape {tuple(reference_mask.shape)}.")
        if not self.built:
            self.build(v_a.shape, tuple(references.shape[:1]) + tuple(references.shape[2:]))

    def joint_attention(self, v_a, references, reference_mask=None):
        """S^c of joint attention: [B, h*w, N*h'*w'], each row one distribution over every
        position of every reference (reference n's positions at columns n*h'*w' ...);
        masked references' columns are 0 (with `no_match` a row sums to less than 1)."""
        references = ops.convert_to_tensor(references)
        mask = None if reference_mask is None else ops.convert_to_tensor(reference_mask)
        self._check_references(v_a, references, mask)
        logits, _ = self._joint_logits(v_a, references, mask)
        return self._softmax(logits)

    def summarize_query_jointly(self, v_a, references, reference_mask=None):
        """Z_a [B, h, w, C] of query `v_a` from one softmax over all N `references` [B or 1, N, h', w', C].

        Args:
            v_a: query features [B, h, w, C].
            references: [B, N, h', w', C] (or [1, N, ...], shared by every query);
                N may be 0 or known only at run time.
            reference_mask: [B, N] (or [1, N]) of 0/1, optional: a 0 marks a
                padded or absent reference, whose positions get weight 0; a
                query with no reference left gets a zero summary (the N = 0
                baseline).
        """
        references = ops.convert_to_tensor(references, dtype=v_a.dtype)
        mask = None if reference_mask is None else ops.convert_to_tensor(reference_mask)
        self._check_references(v_a, references, mask)
        logits, values = self._joint_logits(v_a, references, mask)
        summary = self._summarize(logits, values)
        if mask is not None:
            # All references masked: the softmax would spread over padding; the summary is the baseline's zero.
            present = ops.cast(ops.any(ops.cast(mask, "bool"), axis=1), summary.dtype)
            summary = summary * ops.reshape(present, (-1, 1, 1))
        return ops.reshape(summary, ops.shape(v_a))

    def compute_output_shape(self, v_a_shape, v_b_shape):
        return tuple(v_a_shape), tuple(v_b_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            cosine=self.cosine,
            initial_temperature=self.initial_temperature,
            no_match=self.no_match,
            initial_match_threshold=self.initial_match_threshold,
            recurrence_gate=self.recurrence_gate,
            initial_recurrence_threshold=self.initial_recurrence_threshold,
            initial_recurrence_sharpness=self.initial_recurrence_sharpness,
        )
        return config
