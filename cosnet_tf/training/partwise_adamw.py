"""AdamW with a learning-rate multiplier for chosen variables (the 10x of the heads)."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cosnet_tf")
class PartwiseAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose learning rate is multiplied for some variables.

    The paper trains the co-attention module and the heads at 10x the
    backbone's learning rate. With SGD, `COSNetTrainer` gets that by scaling
    those parts' gradients. Adam divides every gradient by its own running
    scale, so a scaled gradient gives the same step: the 10x is lost, and a
    co-attention initialised from scratch learns at the pretrained backbone's
    rate (docs/coattention.md). This optimizer scales the learning rate
    itself. `COSNetTrainer.compile` registers its co-attention and head
    variables here, with its `head_lr_multiplier`; decoupled weight decay
    stays at 1x, as with SGD.

    Example:

    >>> import keras
    >>> from cosnet_tf.training.partwise_adamw import PartwiseAdamW
    >>> fast, slow = keras.Variable(1.0), keras.Variable(1.0)
    >>> optimizer = PartwiseAdamW(learning_rate=0.01, weight_decay=0.0)
    >>> optimizer.build([fast, slow])
    >>> optimizer.multiply_learning_rate([fast], 10.0)
    >>> optimizer.apply([1.0, 1.0], [fast, slow])
    >>> round(1.0 - float(fast.numpy()), 4), round(1.0 - float(slow.numpy()), 4)
    (0.1, 0.01)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._multipliers = {}  # variable key -> multiplier; set by whoever owns the variables

    def multiply_learning_rate(self, variables, multiplier):
        """From now on, `variables` train at `multiplier` times the learning rate."""
        for variable in variables:
            self._multipliers[self._var_key(variable)] = float(multiplier)

    def update_step(self, gradient, variable, learning_rate):
        multiplier = self._multipliers.get(self._var_key(variable), 1.0)
        if multiplier != 1.0:
            learning_rate = ops.multiply(ops.cast(learning_rate, variable.dtype), multiplier)
        return super().update_step(gradient, variable, learning_rate)
