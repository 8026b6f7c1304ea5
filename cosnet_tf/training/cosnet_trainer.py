"""COSNet with the paper's alternating training loop (Section 3.2-3.3)."""
import keras
from keras import ops

from cosnet_tf.losses import WeightedBinaryCrossentropy
from cosnet_tf.models.cosnet import COSNet

IMAGE_STREAM, VIDEO_STREAM = 0, 1


def binary_iou(y_true, y_pred, threshold=0.5):
    """Mean per-image IoU of thresholded predictions (an empty/empty pair counts 1, as in DAVIS)."""
    pred = ops.cast(y_pred > threshold, "float32")
    true = ops.cast(y_true > 0.5, "float32")
    axes = tuple(range(1, len(pred.shape)))
    inter = ops.sum(pred * true, axis=axes)
    union = ops.sum(ops.maximum(pred, true), axis=axes)
    return ops.mean(ops.where(union > 0, inter / ops.maximum(union, 1.0), 1.0))


@keras.saving.register_keras_serializable(package="cosnet_tf")
class COSNetTrainer(COSNet):
    """A `COSNet` whose `train_step` alternates still-image and video-pair batches.

    Each batch of the training dataset carries a stream id (`x["stream"]`,
    `IMAGE_STREAM` or `VIDEO_STREAM`, see `cosnet_tf.training.mix_streams`):

    - still-image batch (`frame_a`, `mask_a`): only the feature embedding and
      the saliency side output are trained, with Eq. 11 on the side output;
      the co-attention module and the segmentation heads do not change.
    - video-pair batch (`frame_a`, `frame_b`, `mask_a`, `mask_b`): the whole
      network is trained with Eq. 11 on both predictions plus the model's own
      losses (the orthogonality penalty of Eq. 12 for the symmetric variant).

    Gradients of the co-attention module and the heads are multiplied by
    `head_lr_multiplier` (10 in the authors' code): with SGD this is the 10x
    learning rate of those parts (decoupled weight decay stays at 1x).

    Metrics: `loss`, `image_loss`, `video_loss`, `orthogonality`, `pair_iou`
    (mean IoU of pred_a and pred_b at 0.5) while training; `J` (mean region
    similarity of both predictions) in `evaluate` / validation.

    Args:
        head_lr_multiplier: gradient multiplier of co-attention and heads.
        summary_dropout: probability that a video pair is trained with its
            attention summaries zeroed, i.e. as the N = 0 frame-by-frame case
            that `segment` runs without references. 0 (the default) trains
            exactly as the paper; a small value makes N = 0 a trained mode.
        class_balance: the `balance` of Eq. 11's loss (`WeightedBinaryCrossentropy`):
            1 is the paper's class-balanced loss, 0 plain cross-entropy.
        freeze_backbone_batch_norm: run the backbone's batch norms in inference
            mode while training (their scale and shift are still learned).
            Batch statistics of 2-4 frames are noise; DeepLab freezes them too.
        **kwargs: `COSNet` arguments.
    """

    def __init__(
        self,
        *args,
        head_lr_multiplier=10.0,
        summary_dropout=0.0,
        class_balance=1.0,
        freeze_backbone_batch_norm=True,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.pixel_loss = WeightedBinaryCrossentropy(balance=class_balance)
        self.class_balance = float(class_balance)
        if not 0.0 <= summary_dropout < 1.0:
            raise ValueError(f"`summary_dropout` must be in [0, 1), got {summary_dropout}.")
        self.head_lr_multiplier = float(head_lr_multiplier)
        self.summary_dropout = float(summary_dropout)
        self.freeze_backbone_batch_norm = bool(freeze_backbone_batch_norm)

    def _create_extra_state(self):
        self.seed_generator = keras.random.SeedGenerator(0)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.image_loss_tracker = keras.metrics.Mean(name="image_loss")
        self.video_loss_tracker = keras.metrics.Mean(name="video_loss")
        self.orthogonality_tracker = keras.metrics.Mean(name="orthogonality")
        self.pair_iou_tracker = keras.metrics.Mean(name="pair_iou")
        self.j_tracker = keras.metrics.Mean(name="J")

    @classmethod
    def from_model(cls, model, **kwargs):
        """A trainer with the structure and weights of a `COSNet`."""
        config = model.get_config()
        config.update(kwargs)
        trainer = cls.from_config(config)
        trainer.set_weights(model.get_weights())
        return trainer

    def to_inference_model(self):
        """A plain `COSNet` with this trainer's weights (what gets shipped)."""
        config = COSNet.get_config(self)
        model = COSNet.from_config(config)
        model.set_weights(self.get_weights())
        return model

    def compile(self, optimizer="sgd", **kwargs):
        """Compiles with the model's own losses; `optimizer` is the only setting that matters.

        The optimizer is built at once for every trainable variable: the two
        streams update different subsets, and a lazily built optimizer would
        know only the subset of the first step it saw.
        """
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.image_loss_tracker,
            self.video_loss_tracker,
            self.orthogonality_tracker,
            self.pair_iou_tracker,
            self.j_tracker,
        ]

    def encode(self, frames, training=False):
        # Frozen batch norm: the layers run in inference mode (moving
        # statistics, no updates) while their scale and shift still train.
        if self.freeze_backbone_batch_norm:
            training = False
        return super().encode(frames, training=training)

    def _head_variable_ids(self):
        parts = [self.head_a, self.head_b]
        if self.coattention is not None:
            parts += [self.coattention, self.gate]
        return {id(v) for part in parts for v in part.trainable_weights}

    def _image_step(self, x, y):
        import tensorflow as tf

        frames, masks = x["frame_a"], y["mask_a"]
        variables = self.backbone.trainable_weights + self.saliency_head.trainable_weights
        with tf.GradientTape() as tape:
            features = self.encode(frames, training=True)
            saliency = self.saliency(features, ops.shape(frames)[1:3], training=True)
            loss = self.pixel_loss(masks, saliency)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        return loss, ops.zeros((), loss.dtype), ops.zeros((), loss.dtype)

    def _video_step(self, x, y):
        import tensorflow as tf

        variables = self.trainable_weights
        with tf.GradientTape() as tape:
            keep = None
            if self.summary_dropout > 0:
                batch = ops.shape(x["frame_a"])[0]
                keep = keras.random.uniform((batch,), seed=self.seed_generator) >= self.summary_dropout
            out = self.pair_forward(x["frame_a"], x["frame_b"], training=True, summary_keep=keep)
            pair_loss = self.pixel_loss(y["mask_a"], out["pred_a"]) + self.pixel_loss(
                y["mask_b"], out["pred_b"]
            )
            regularization = ops.sum(ops.stack(self.losses)) if self.losses else ops.zeros(())
            loss = pair_loss + regularization
        grads = tape.gradient(loss, variables)
        head_ids = self._head_variable_ids()
        pairs = [
            (g * self.head_lr_multiplier if id(v) in head_ids else g, v)
            for g, v in zip(grads, variables)
            if g is not None  # the saliency head has no part in a video step
        ]
        self.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        iou = 0.5 * (binary_iou(y["mask_a"], out["pred_a"]) + binary_iou(y["mask_b"], out["pred_b"]))
        return loss, regularization, iou

    def train_step(self, data):
        import tensorflow as tf

        x, y = data[0], data[1]
        if "stream" not in x:
            raise ValueError(
                "COSNetTrainer needs batches with a 'stream' entry; build the training data "
                "with cosnet_tf.training.mix_streams."
            )
        is_video = ops.equal(ops.reshape(x["stream"], (-1,))[0], VIDEO_STREAM)
        loss, regularization, iou = tf.cond(
            is_video, lambda: self._video_step(x, y), lambda: self._image_step(x, y)
        )
        video_weight = ops.cast(is_video, "float32")
        self.loss_tracker.update_state(loss)
        self.video_loss_tracker.update_state(loss, sample_weight=video_weight)
        self.image_loss_tracker.update_state(loss, sample_weight=1.0 - video_weight)
        self.orthogonality_tracker.update_state(regularization, sample_weight=video_weight)
        self.pair_iou_tracker.update_state(iou, sample_weight=video_weight)
        return {m.name: m.result() for m in self.metrics if m.name != "J"}

    def test_step(self, data):
        x, y = data[0], data[1]
        out = self({"frame_a": x["frame_a"], "frame_b": x["frame_b"]}, training=False)
        loss = self.pixel_loss(y["mask_a"], out["pred_a"]) + self.pixel_loss(y["mask_b"], out["pred_b"])
        batch = ops.cast(ops.shape(x["frame_a"])[0], "float32")
        j = 0.5 * (binary_iou(y["mask_a"], out["pred_a"]) + binary_iou(y["mask_b"], out["pred_b"]))
        self.loss_tracker.update_state(loss)
        self.j_tracker.update_state(j, sample_weight=batch)  # a mean over frames
        return {"loss": self.loss_tracker.result(), "J": self.j_tracker.result()}

    def get_config(self):
        config = super().get_config()
        config.update(
            head_lr_multiplier=self.head_lr_multiplier,
            summary_dropout=self.summary_dropout,
            class_balance=self.class_balance,
            freeze_backbone_batch_norm=self.freeze_backbone_batch_norm,
        )
        return config
