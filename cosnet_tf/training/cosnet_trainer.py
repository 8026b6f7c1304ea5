"""COSNet with the paper's alternating training loop (Section 3.2-3.3)."""
import keras
import numpy as np
import tensorflow as tf
from keras import ops

from cosnet_tf.backbones.early_blocks import early_blocks
from cosnet_tf.losses import WeightedBinaryCrossentropy
from cosnet_tf.models.cosnet import COSNet
from cosnet_tf.training.partwise_adamw import PartwiseAdamW
from cosnet_tf.utils.dtype_policy import global_dtype_policy

IMAGE_STREAM, VIDEO_STREAM = 0, 1


def _per_replica_share(loss):
    """`loss` / the number of replicas in sync (1 without a strategy).

    Each replica's loss is the mean over its part of the global batch, and the
    optimizer sums the replicas' gradients: scaled this way, the summed
    gradient is the gradient of the global-batch mean, as on one device (the
    parts are equal: the global batch divides evenly). The Eq. 12 penalty,
    added once per replica, is then counted once.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)


def _frames_of_groups(tensor):
    """[B, G, H, W, C] -> [B*G, H, W, C]."""
    shape = ops.shape(tensor)
    return ops.reshape(tensor, (-1,) + tuple(shape[2:]))


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
    """A `COSNet` whose training alternates still-image and video-pair steps.

    Each batch of the training dataset carries a stream id (`x["stream"]`,
    `IMAGE_STREAM` or `VIDEO_STREAM`, see `cosnet_tf.training.mix_streams`):

    - still-image batch (`frame_a`, `mask_a`): only the feature embedding and
      the saliency side output are trained, with Eq. 11 on the side output;
      the co-attention module and the segmentation heads do not change.
    - video-pair batch (`frame_a`, `frame_b`, `mask_a`, `mask_b`): the whole
      network is trained with Eq. 11 on both predictions plus the model's own
      losses (the orthogonality penalty of Eq. 12 for the symmetric variant).
      When `frame_b` holds K > 1 references per sample ([B, K, H, W, 3], from
      `make_frame_pair_dataset(references=K)`), each frame of the group of
      K + 1 is segmented with the mean of its gated summaries over the other K
      (`group_forward`: Eq. 13, as `segment` tests), and Eq. 11 covers all of
      them.

    The co-attention module and the heads train at `head_lr_multiplier` times
    the learning rate (10 in the authors' code; decoupled weight decay stays at
    1x): with `PartwiseAdamW` the optimizer multiplies their learning rate;
    with any other optimizer their gradients are multiplied, which is the same
    for SGD and does nothing under Adam-like optimizers.

    Under a `tf.distribute` strategy (`cosnet train --strategy`), build and
    compile it in the strategy's scope: each stream is its own compiled step
    (see `make_train_function`), losses are scaled for the replicas and Eq. 11's
    foreground share is taken over the global batch, so a step gives the same
    weights as on one device (docs/distributed.md).

    Metrics: `loss`, `image_loss`, `video_loss`, `orthogonality`, `pair_iou`
    (mean IoU of pred_a and pred_b at 0.5) while training; `J` (mean region
    similarity of both predictions) in `evaluate` / validation.

    Args:
        head_lr_multiplier: gradient multiplier of co-attention and heads.
        summary_dropout: probability that a video pair is trained with its
            attention summaries zeroed, i.e. as the N = 0 frame-by-frame case
            that `segment` runs without references. 0 (the default) trains
            exactly as the paper; a small value makes N = 0 a trained mode.
        query_feature_dropout: probability that a frame of a video sample is
            segmented from its gated summary alone: its own features V are
            zeroed in its head's input, X = [Z, 0] (Eq. 10); the co-attention
            still reads V, and the decoder keeps its low-level input. The
            mirror of `summary_dropout`, and not in the paper: the heads must
            then learn to segment from what the references matched, instead of
            leaving Z unused while V suffices. A frame whose summary is dropped
            keeps its features. 0 (the default) trains as the paper; it needs
            co-attention. On DAVIS it raised what references add by weakening
            N = 0, while J at N = 5 fell (docs/research-log.md).
        class_balance: the `balance` of Eq. 11's loss (`WeightedBinaryCrossentropy`):
            1 is the paper's class-balanced loss, 0 plain cross-entropy.
        dice_weight: weight of a Dice loss (`keras.losses.dice`, one per frame,
            averaged) added to Eq. 11 for every mask; 0 (the default) is Eq. 11
            alone. Not in the paper: cross-entropy scores pixels one by one, so a
            mask that is right about which object but timid at its outline costs
            little; Dice scores the overlap that J measures (docs/research-log.md).
        freeze_backbone_batch_norm: run the backbone's batch norms in inference
            mode while training (their scale and shift are still learned).
            Batch statistics of 2-4 frames are noise; DeepLab freezes them too.
        training_references: K, the references per sample of the video batches
            this trainer gets (`make_frame_pair_dataset(references=K)`). It
            sets only how validation pairs are scored: with K > 1 only `head_a`
            is trained, so each frame of a validation pair is segmented by it
            with the other frame as its reference (`group_forward`), as
            `segment` does with N = 1; with K = 1, by `pair_forward`'s two heads.
        freeze_backbone: train nothing of the backbone (its weights stay those it
            was built or loaded with): the co-attention and heads learn on fixed
            features. On the recurrence benchmark this is the one setting where
            references paid (docs/coattention.md): a backbone that trains finds
            per-frame cues first. The model `to_inference_model` gives has a
            trainable backbone again.
        frozen_backbone_blocks: k > 0 keeps the backbone's stem and its first k
            blocks (`cosnet_tf.backbones.early_blocks`; MobileNetV2 has 17, and
            6 is every block before stride 16) at the weights it was built or
            loaded with; the later blocks and the ASPP train. For a whole-network
            stage after a `freeze_backbone` stage: the early blocks hold the
            generic edges and textures of the pretrained network, and this
            leaves fewer weights with which the frame alone can learn the
            training objects' looks. On DAVIS it kept no more of the
            references' gain than a stage 2 that trains everything
            (docs/research-log.md). `to_inference_model` gives a fully
            trainable model.
        reference_path_only: train only what the references change: the
            co-attention (W of Eq. 1), the gate (Eq. 8) and the summary half of
            each head's first kernel (the weights on Z in X = [Z, V], Eq. 10).
            The backbone, the feature half of that kernel and the rest of the
            heads (their batch norms in inference mode) keep the weights they
            were loaded with, so N = 0, which reads X = [0, V], segments exactly
            as before: what the run changes at N > 0 is what the references
            add. For a stage after a whole-network one; not in the paper, and
            not with the still-image stream (it trains nothing there).
        **kwargs: `COSNet` arguments.
    """

    def __init__(
        self,
        *args,
        head_lr_multiplier=10.0,
        summary_dropout=0.0,
        query_feature_dropout=0.0,
        class_balance=1.0,
        dice_weight=0.0,
        freeze_backbone_batch_norm=True,
        freeze_backbone=False,
        frozen_backbone_blocks=0,
        training_references=1,
        reference_path_only=False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if int(training_references) < 1:
            raise ValueError(f"`training_references` must be >= 1, got {training_references}.")
        self.training_references = int(training_references)
        self.pixel_loss = WeightedBinaryCrossentropy(balance=class_balance)
        self.class_balance = float(class_balance)
        if dice_weight < 0:
            raise ValueError(f"`dice_weight` must be >= 0, got {dice_weight}.")
        self.dice_weight = float(dice_weight)
        if not 0.0 <= summary_dropout < 1.0:
            raise ValueError(f"`summary_dropout` must be in [0, 1), got {summary_dropout}.")
        if not 0.0 <= query_feature_dropout < 1.0:
            raise ValueError(f"`query_feature_dropout` must be in [0, 1), got {query_feature_dropout}.")
        if query_feature_dropout > 0 and self.coattention is None:
            raise ValueError("`query_feature_dropout` needs co-attention: without it a head would read nothing.")
        self.head_lr_multiplier = float(head_lr_multiplier)
        self.summary_dropout = float(summary_dropout)
        self.query_feature_dropout = float(query_feature_dropout)
        self.freeze_backbone_batch_norm = bool(freeze_backbone_batch_norm)
        self.freeze_backbone = bool(freeze_backbone)
        if self.freeze_backbone:
            self.backbone.trainable = False
        self.frozen_backbone_blocks = int(frozen_backbone_blocks)
        for layer in early_blocks(self.backbone, self.frozen_backbone_blocks):
            layer.trainable = False
        self.reference_path_only = bool(reference_path_only)
        self._gradient_masks = {}  # set by `compile`
        if self.reference_path_only:
            if self.coattention is None:
                raise ValueError("`reference_path_only` needs co-attention: there is no reference path to train.")
            self.backbone.trainable = False
            self.saliency_head.trainable = False
            for head in (self.head_a, self.head_b):
                first = head.first_layer
                for layer in head._flatten_layers(include_self=False):
                    if layer is not first:
                        layer.trainable = False  # batch norms: inference mode, moving statistics kept

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
        """A plain `COSNet` with this trainer's weights (what gets shipped), computing in float32
        whatever dtype policy the trainer trained under."""
        config = dict(COSNet.get_config(self), dtype="float32")
        with global_dtype_policy("float32"):
            model = COSNet.from_config(config)
        model.backbone.trainable = True  # frozen for this training only
        model.set_weights(self.get_weights())
        return model

    def compile(self, optimizer="sgd", **kwargs):
        """Compiles with the model's own losses; `optimizer` is the only setting that matters.

        The optimizer is built at once for every trainable variable: the two
        streams update different subsets, and a lazily built optimizer would
        know only the subset of the first step it saw.
        """
        super().compile(optimizer=optimizer, **kwargs)
        # reference_path_only: a masked gradient keeps the feature half of the heads' first
        # kernels where it is, and decoupled weight decay must not shrink it either.
        self._gradient_masks = self._reference_path_masks() if self.reference_path_only else {}
        masked = [v for v in self.trainable_variables if id(v) in self._gradient_masks]
        if masked and getattr(self.optimizer, "weight_decay", None):
            self.optimizer.exclude_from_weight_decay(var_list=masked)
        self.optimizer.build(self.trainable_variables)
        # The 10x of the heads: PartwiseAdamW multiplies their learning rate; any other
        # optimizer gets their gradients multiplied (the same for SGD, a no-op for Adam).
        if isinstance(self.optimizer, PartwiseAdamW):
            self.optimizer.multiply_learning_rate(self._head_variables(), self.head_lr_multiplier)

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

    def _reference_path_masks(self):
        """{id(variable): gradient mask} for each head's first layer: 1 on the summary half of
        its kernel (the input channels of Z, which come first in X = [Z, V]), 0 on the feature
        half and on a bias (which N = 0 reads too)."""
        masks = {}
        for head in (self.head_a, self.head_b):
            first = head.first_layer
            masks[id(first.kernel)] = head.leading_input_mask(self.attention_channels)
            if getattr(first, "bias", None) is not None:
                masks[id(first.bias)] = np.zeros(tuple(first.bias.shape), dtype="float32")
        return masks

    def _head_variables(self):
        """The weights trained at `head_lr_multiplier` times the learning rate."""
        parts = [self.head_a, self.head_b]
        if self.coattention is not None:
            parts += [self.coattention, self.gate]
        return [v for part in parts for v in part.trainable_weights]

    def _pixel_loss(self, masks, predictions):
        """Eq. 11 averaged over this replica's samples, not scaled for the replicas.

        (A Keras `Loss` called as a function already divides by the replica
        count; the steps scale the whole loss, Eq. 12 included, once, in
        `_per_replica_share`.) In float32 under any dtype policy, as a Keras
        `Loss` computes.
        """
        predictions = ops.cast(predictions, "float32")
        loss = ops.mean(self.pixel_loss.call(masks, predictions))
        if self.dice_weight:
            frame_axes = tuple(range(1, len(predictions.shape)))  # one Dice per frame
            loss = loss + self.dice_weight * ops.mean(keras.losses.dice(masks, predictions, axis=frame_axes))
        return loss

    def _image_step(self, x, y):
        frames, masks = x["frame_a"], y["mask_a"]
        variables = self.backbone.trainable_weights + self.saliency_head.trainable_weights
        if not variables:
            raise ValueError("A still-image step trains the backbone and the saliency head, and "
                             "`reference_path_only` freezes both: train without the still-image stream.")
        with tf.GradientTape() as tape:
            features = self.encode(frames, training=True)
            saliency = self.saliency(features, ops.shape(frames)[1:3], training=True)
            loss = self._pixel_loss(masks, saliency)
            share = _per_replica_share(loss)  # inside the tape, or the gradient is None
        grads = tape.gradient(share, variables)
        self.optimizer.apply(grads, variables)
        return loss

    def _video_step(self, x, y):
        variables = self.trainable_weights
        with tf.GradientTape() as tape:
            keep = feature_keep = None
            batch = ops.shape(x["frame_a"])[0]
            if self.summary_dropout > 0:
                keep = keras.random.uniform((batch,), seed=self.seed_generator) >= self.summary_dropout
            grouped = len(x["frame_b"].shape) == 5  # a group: frame_a and K references (`references=K`)
            if self.query_feature_dropout > 0:
                frames_per_sample = 1 + x["frame_b"].shape[1] if grouped else 2
                feature_keep = keras.random.uniform(
                    (batch, frames_per_sample), seed=self.seed_generator) >= self.query_feature_dropout
                if keep is not None:  # never both: a frame without its summary keeps its features
                    feature_keep = ops.logical_or(feature_keep, ops.logical_not(keep)[:, None])
            if grouped:
                frames = ops.concatenate([x["frame_a"][:, None], x["frame_b"]], axis=1)
                masks = ops.concatenate([y["mask_a"][:, None], y["mask_b"]], axis=1)
                predictions = self.group_forward(frames, training=True, summary_keep=keep,
                                                 feature_keep=feature_keep)
                masks, predictions = _frames_of_groups(masks), _frames_of_groups(predictions)
                # Twice the mean over the group's frames: the scale of a pair's two losses.
                pair_loss = 2.0 * self._pixel_loss(masks, predictions)
                iou = binary_iou(masks, predictions)
            else:
                out = self.pair_forward(x["frame_a"], x["frame_b"], training=True, summary_keep=keep,
                                        feature_keep=feature_keep)
                pair_loss = self._pixel_loss(y["mask_a"], out["pred_a"]) + self._pixel_loss(
                    y["mask_b"], out["pred_b"]
                )
                iou = 0.5 * (binary_iou(y["mask_a"], out["pred_a"]) + binary_iou(y["mask_b"], out["pred_b"]))
            # Each in float32: a layer's add_loss may come in its (bf16) compute dtype.
            regularization = (ops.sum(ops.stack([ops.cast(l, "float32") for l in self.losses]))
                              if self.losses else ops.zeros(()))
            loss = pair_loss + regularization
            share = _per_replica_share(loss)
        grads = tape.gradient(share, variables)
        grads = [g if g is None or id(v) not in self._gradient_masks else g * self._gradient_masks[id(v)]
                 for g, v in zip(grads, variables)]
        scaled = () if isinstance(self.optimizer, PartwiseAdamW) else self._head_variables()
        head_ids = {id(v) for v in scaled}
        pairs = [
            (g * self.head_lr_multiplier if id(v) in head_ids else g, v)
            for g, v in zip(grads, variables)
            if g is not None  # the saliency head has no part in a video step
        ]
        self.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        return loss, regularization, iou

    # ----------------------------------------------------------- train steps
    def make_train_function(self, force=False):
        """One compiled step per stream; the host picks the step for each batch.

        Under a `tf.distribute` strategy, every replica must run the same step:
        the optimizer's all-reduce is a synchronisation point, and one inside a
        data-dependent `tf.cond` (an image step on one replica, a video step on
        another) is not allowed. So the still-image and video-pair steps are
        separate compiled functions, and the stream of each batch is read on
        the host before either runs. Batches come from `mix_streams`, whose
        pattern (`video_steps` pair batches, then `image_steps` image batches)
        is fixed, so step i has the same stream on every replica and every
        worker: a function of the step, not of any replica's data.
        """
        if self.train_function is not None and not force:
            return self.train_function
        if getattr(self, "steps_per_execution", 1) != 1:
            raise ValueError(
                "COSNetTrainer runs one step per call (the stream of each batch is chosen on the "
                f"host); compile it with steps_per_execution=1, not {self.steps_per_execution}."
            )
        steps = {
            stream: self._make_function(self._train_step_of(stream)) for stream in (VIDEO_STREAM, IMAGE_STREAM)
        }

        def train_function(iterator):
            data = next(iter(iterator))  # StopIteration ends the epoch, as in Keras
            return steps[self._stream_of(data)]([data])

        self.train_function = train_function
        return train_function

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy, Keras's fit first takes one batch from the iterator and all-reduces
        # it to build the model symbolically. COSNet builds every weight at construction and
        # `compile` builds the optimizer, so there is nothing to build; skipping it keeps that
        # batch in the stream's pattern and avoids an all-reduce of a nested dict, which
        # MultiWorkerMirroredStrategy cannot do.
        if self.built and self.optimizer is not None and self.optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _stream_of(self, data):
        x = data[0]
        if not isinstance(x, dict) or "stream" not in x:
            raise ValueError(
                "COSNetTrainer needs batches with a 'stream' entry; build the training data "
                "with cosnet_tf.training.mix_streams."
            )
        # A distributed batch holds one part per local replica; they must share one stream, or
        # the replicas would run different steps and wait for each other's all-reduce forever.
        parts = self.distribute_strategy.experimental_local_results(x["stream"])
        streams = {int(v) for part in parts for v in np.reshape(ops.convert_to_numpy(part), (-1,))}
        if len(streams) != 1 or not streams <= {IMAGE_STREAM, VIDEO_STREAM}:
            raise ValueError(
                f"A training batch must hold one stream (video pairs or still images) on every replica; "
                f"got stream ids {sorted(streams)}."
            )
        return streams.pop()

    def _train_step_of(self, stream):
        return self._video_train_step if stream == VIDEO_STREAM else self._image_train_step

    def _video_train_step(self, data):
        loss, regularization, iou = self._video_step(data[0], data[1])
        self.video_loss_tracker.update_state(loss)
        self.orthogonality_tracker.update_state(regularization)
        self.pair_iou_tracker.update_state(iou)
        return self._train_logs(loss)

    def _image_train_step(self, data):
        loss = self._image_step(data[0], data[1])
        self.image_loss_tracker.update_state(loss)
        return self._train_logs(loss)

    def _train_logs(self, loss):
        self.loss_tracker.update_state(loss)
        return self._logs({m.name: m.result() for m in self.metrics if m.name != "J"})

    def _logs(self, logs):
        # Keras 3 reduces a step's outputs across the workers of a MultiWorkerMirroredStrategy
        # with `reduce(MEAN, axis=0)`, which fails on scalars (tensorflow/tensorflow#72388):
        # there, each value goes out as a vector of one, which the logs read back as a float.
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return {name: ops.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def train_step(self, data):
        """The step of the batch's stream (see `make_train_function`), for eager callers outside `fit`."""
        return self._train_step_of(self._stream_of(data))(data)

    def test_step(self, data):
        x, y = data[0], data[1]
        if self.training_references > 1:  # head_a alone was trained: each frame with the other as reference
            predictions = self.group_forward(ops.stack([x["frame_a"], x["frame_b"]], axis=1), training=False)
            out = {"pred_a": predictions[:, 0], "pred_b": predictions[:, 1]}
        else:
            out = self({"frame_a": x["frame_a"], "frame_b": x["frame_b"]}, training=False)
        loss = self._pixel_loss(y["mask_a"], out["pred_a"]) + self._pixel_loss(y["mask_b"], out["pred_b"])
        batch = ops.cast(ops.shape(x["frame_a"])[0], "float32")
        j = 0.5 * (binary_iou(y["mask_a"], out["pred_a"]) + binary_iou(y["mask_b"], out["pred_b"]))
        self.loss_tracker.update_state(loss)
        self.j_tracker.update_state(j, sample_weight=batch)  # a mean over frames
        return self._logs({"loss": self.loss_tracker.result(), "J": self.j_tracker.result()})

    def get_config(self):
        config = super().get_config()
        config.update(
            head_lr_multiplier=self.head_lr_multiplier,
            summary_dropout=self.summary_dropout,
            query_feature_dropout=self.query_feature_dropout,
            class_balance=self.class_balance,
            dice_weight=self.dice_weight,
            freeze_backbone_batch_norm=self.freeze_backbone_batch_norm,
            freeze_backbone=self.freeze_backbone,
            frozen_backbone_blocks=self.frozen_backbone_blocks,
            training_references=self.training_references,
            reference_path_only=self.reference_path_only,
        )
        return config
