"""A callback that puts real video-segmentation J into the epoch logs."""
import keras


class VideoJCallback(keras.callbacks.Callback):
    """Runs a :class:`VideoJEvaluator` at epoch ends and adds its scores to ``logs``.

    Keras Tuner reads the objective (``video_J``) from the epoch logs, so
    Hyperband can compare models between rounds and the tuner's best-epoch
    checkpoint follows the video J, not the pair loss. Place it before
    callbacks that save or log (CSV, checkpoints) so they see the scores.

    Args:
        evaluator: a :class:`VideoJEvaluator`.
        every: score every K-th epoch; the last epoch of the run is always
            scored (``final_epoch`` is set by the caller before ``fit``).
        final_epoch: the number of epochs of the run (None: score only on
            the ``every`` rhythm).

    Attributes:
        results: the scores of the last evaluation (a dict), or None.
    """

    def __init__(self, evaluator, every=1, final_epoch=None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.evaluator = evaluator
        self.every = int(every)
        self.final_epoch = final_epoch
        self.results = None

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.final_epoch:
            return
        self.results = self.evaluator(self.model)
        if logs is not None:
            logs.update(self.results)
