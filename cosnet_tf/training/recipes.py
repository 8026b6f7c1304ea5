"""Named training recipes: settings a run starts from, as data (like the model presets).

A config names one with `recipe = "NAME"`; every setting the config (or its
chain of `base` files, or a `TrainConfig.from_dict` caller) gives explicitly wins
over the recipe's, tables such as [model] merged key by key. A recipe holds
only how to train and what the co-attention needs; data, size, steps and the
backbone's output stride stay with each config. Evidence for each choice:
docs/research-log.md.

>>> from cosnet_tf.training.run_config import TrainConfig
>>> config = TrainConfig.from_dict({"recipe": "coattention_frozen", "davis_root": "data",
...                                 "model": {"backbone_config": {"output_stride": 16}}})
>>> config.freeze_backbone, config.learning_rate, config.model["backbone_config"]
(True, 0.001, {'mid_level_block': 12, 'low_level_block': 2, 'output_stride': 16})
"""
import copy

from cosnet_tf.training.settings_file import merge_settings

_COATTENTION_MODEL = dict(
    coattention="vanilla",
    # Centred-cosine affinity with a learned temperature, and the recurrence gate that hands the
    # head the comparison of Z(i) with V(i) it cannot make linearly (docs/coattention.md).
    coattention_config={"cosine": True, "recurrence_gate": True},
    # Block 12's output beside the ASPP output: the co-attention compares looks, which the ASPP
    # output has mostly lost (benchmarks/recurrence_feature_probe.py). Block 2's (stride 4) for
    # the heads' decoder, which draws the outline there.
    backbone_config={"mid_level_block": 12, "low_level_block": 2},
)

TRAINING_RECIPES = {
    "coattention_frozen": dict(
        description="Stage 1 of the recipe with which the references pay on the recurrence "
        "benchmark: the backbone frozen (weights and batch norm), so that the attention summary is "
        "the only new thing that can lower the loss; co-attention, gate and heads trained with "
        "AdamW 1e-3, batch 8, plain cross-entropy, summary dropout 0.2 (which also trains the "
        "N = 0 mode).",
        settings=dict(
            batch_size=8,
            optimizer="adamw",
            learning_rate=1e-3,
            head_lr_multiplier=1.0,  # only the co-attention and heads train: one learning rate
            weight_decay=1e-4,
            freeze_backbone=True,
            # Eq. 11's class balance makes other salient objects nearly free (docs/coattention.md).
            class_balance=0.0,
            summary_dropout=0.2,
            model=_COATTENTION_MODEL,
        ),
    ),
    "coattention_finetune": dict(
        description="Stage 2: the whole network from stage 1's model (`initial_weights`), AdamW "
        "1e-4 for every weight, batch 4, with a Dice loss beside the cross-entropy; otherwise "
        "stage 1's settings.",
        base="coattention_frozen",
        # Dice: the model picked the right object and drew it timidly; the Dice term draws it whole.
        settings=dict(batch_size=4, learning_rate=1e-4, freeze_backbone=False, dice_weight=1.0),
    ),
}


def recipe_settings(name, where="config"):
    """The settings of recipe `name` (a fresh copy), its own `base` recipe's under them."""
    if name not in TRAINING_RECIPES:
        raise ValueError(f"{where}: unknown recipe {name!r}; known: {sorted(TRAINING_RECIPES)}.")
    recipe = TRAINING_RECIPES[name]
    settings = copy.deepcopy(recipe["settings"])
    if "base" in recipe:
        settings = merge_settings(recipe_settings(recipe["base"], where), settings)
    return settings
