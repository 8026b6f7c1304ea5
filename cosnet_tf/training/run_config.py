"""The settings of a training run (`TrainConfig`), from a TOML/JSON file, flags, or both.

Every setting is declared once below with `setting(...)` (cosnet_tf.training.settings):
its default, help, choices and old names. `cosnet train` makes its flags from
these declarations, files are read through them, and `cosnet tune` searches
over them, so a new setting is one field here (plus its use and its test).

This module does not import TensorFlow at load time: `cosnet --help` builds the
train parser from it. The checks that need the model or the data classes import
them when a config is made.
"""
import dataclasses
import inspect
import os
import warnings
from typing import Optional

from cosnet_tf.training.distribution import STRATEGIES
from cosnet_tf.training.recipes import recipe_settings
from cosnet_tf.training.settings import check_choices, check_keys, renamed, setting
from cosnet_tf.training.settings_file import merge_settings, read_config_file, stage_settings

# mixed_float16 is left out: the train step has no loss scaling, which float16 gradients need.
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "auto")
OPTIMIZERS = ("sgd", "adamw")

# Settings of the model that older configs gave at the top level; `with_model_section` moves
# them into [model] when a file is read, so those files keep working unchanged.
LEGACY_MODEL_KEYS = ("preset", "coattention", "coattention_config", "backbone_weights", "backbone_config")


@dataclasses.dataclass
class ModelFlags:
    """The [model] settings common enough to have flags of their own in `cosnet train`.

    Any other [model] setting goes through `--model-config JSON`.
    """

    preset: Optional[str] = setting(help="[model] preset: mobilenetv2 | resnet50 | resnet101_official")
    coattention: Optional[str] = setting(help="[model] co-attention variant: vanilla | symmetric | channel | none")
    backbone_weights: Optional[str] = setting(help="[model] Keras .h5 backbone weights (by layer name) or 'imagenet'")
    backbone_config: Optional[dict] = setting(
        type=dict, help='[model] backbone overrides as JSON, e.g. \'{"output_stride": 16}\'')
    coattention_config: Optional[dict] = setting(
        type=dict, help="[model] the variant's own settings as JSON, e.g. '{\"cosine\": true}'")
    reference_fusion: Optional[str] = setting(
        help="[model] how N references are fused, in training on groups and by default in segmentation: "
        "attention (mean of gated summaries, Eq. 13) | joint (one softmax over all references) | prediction")


def model_keys():
    """{[model] key: its default} accepted by `COSNet.from_preset`, besides preset and the backbone's."""
    from cosnet_tf.models.cosnet import COSNet  # TensorFlow: only when a config is checked

    parameters = inspect.signature(COSNet.__init__).parameters
    keys = {name: p.default for name, p in parameters.items() if name not in ("self", "backbone", "kwargs")}
    # Set by the training run itself: the size it trains at, and the strategy's batch norm.
    for name in ("inference_size", "inference_short_side", "synchronized_batch_norm"):
        keys.pop(name)
    return {"preset": "mobilenetv2", "backbone_config": None, "backbone_weights": None, **keys}


def variant_settings():
    """{setting: variants whose layer declares it tunable} (the layers' `TUNABLE` class attribute)."""
    from cosnet_tf.layers import COATTENTION_VARIANTS  # TensorFlow: only when a config is checked

    declared = {}
    for variant, layer in COATTENTION_VARIANTS.items():
        for name in getattr(layer, "TUNABLE", {}):
            declared.setdefault(name, set()).add(variant)
    return declared


def model_coattention(section):
    """The co-attention variant a [model] section builds: its own, or else its preset's."""
    from cosnet_tf.models.presets import preset_config  # TensorFlow: only when a config is checked

    if "coattention" in section:
        return section["coattention"]
    return preset_config(section.get("preset", "mobilenetv2"))[2].get("coattention")


def model_section(section, where="model"):
    """A checked copy of a [model] section: known keys, "none" read as no co-attention.

    The variant's settings (`coattention_config`) are checked against its layer
    here, so that a wrong key fails before any data is read.
    """
    from cosnet_tf.layers import COATTENTION_VARIANTS  # TensorFlow: only when a config is checked

    section = dict(section or {})
    section.setdefault("preset", "mobilenetv2")
    accepted = set(model_keys())
    unknown = sorted(set(section) - accepted)
    if unknown:
        raise ValueError(f"{where}: unknown model setting(s) {unknown}; known: {sorted(accepted)}.")
    if section.get("coattention") == "none":
        section["coattention"] = None
    variant = model_coattention(section)
    if variant is None:  # a variant's settings go with it (e.g. `--coattention none` on a vanilla config)
        section.pop("coattention_config", None)
    settings = section.get("coattention_config") or {}
    if settings:
        try:  # a variant's settings are its layer's arguments: checked now, not after data loading
            COATTENTION_VARIANTS[variant](**settings)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: coattention_config {settings} for the {variant!r} variant: {error}") from None
    return section


def with_model_section(values, where="config"):
    """`values` with older flat model keys moved into its [model] section.

    A top-level key that a co-attention layer declares tunable (e.g. the
    symmetric variant's `orthogonality_weight`, lambda of Eq. 12) is that
    variant's own: it moves into `coattention_config` when the run's variant
    declares it; for the other variants it never applied and is dropped.
    """
    values = dict(values)
    section = dict(values.pop("model", None) or {})
    for key in LEGACY_MODEL_KEYS:
        if key in values:
            if key in section:
                raise ValueError(f"{where}: {key!r} is given twice, at the top level and in [model]; "
                                 "keep the one in [model].")
            section[key] = values.pop(key)
    fields = {f.name for f in dataclasses.fields(TrainConfig)} | {"recipe"}
    if set(values) - fields:
        declared = variant_settings()
        for key in sorted(set(values) - fields):
            if key not in declared:
                continue  # an unknown key: `check_keys` names it
            value = values.pop(key)
            variant = model_coattention(model_section(section, where))
            if variant in declared[key]:
                section["coattention_config"] = {key: value, **section.get("coattention_config", {})}
            else:
                warnings.warn(f"{where}: {key!r} is a setting of the {sorted(declared[key])} co-attention, "
                              f"not of {variant!r}: ignored", FutureWarning, stacklevel=2)
    if section:
        values["model"] = section
    return values


@dataclasses.dataclass
class TrainConfig:
    """Everything `cosnet train` needs. Paths are resolved against the working directory.

    The defaults follow the paper where this machine allows (SGD, momentum
    0.9, polynomial decay from 2.5e-4, 10x on co-attention and heads, one
    image step per two video steps); sizes and batch are CPU-sized.

    >>> config = TrainConfig(davis_root="data", steps=200, checkpoint_every=100)
    >>> config.out, config.input_size, config.coattention
    ('runs/cosnet', (320, 320), 'vanilla')
    """

    out: str = setting("runs/cosnet", help="run folder: checkpoints, logs, best.keras, final.keras (a staged "
                       "config: one folder per stage under it, and the last stage's final.keras)",
                       old_names=("run_dir",), tunable=False)
    davis_root: Optional[str] = setting(help="DAVIS-2016 layout root (JPEGImages/480p, Annotations/480p); required",
                                        tunable=False)
    train_sequences: Optional[list] = setting(nargs="+", tunable=False,
                                              help="training sequence names (default: the train split file)")
    val_sequences: Optional[list] = setting(nargs="+", tunable=False,
                                            help="validation sequence names (default: the val split file)")
    train_split: Optional[str] = setting("train", tunable=False, help="split file of davis_root trained on")
    val_split: Optional[str] = setting("val", tunable=False, help="split file of davis_root validated on ('': none)")
    val_davis_root: Optional[str] = setting(
        tunable=False, help="held-out videos from another DAVIS-layout root (val_sequences of it, or all of its "
        "sequences; val_split is then not used), e.g. DAVIS-2016 validation sequences, never trained on")
    saliency_images: Optional[str] = setting(tunable=False, help="still-image folder (MSRA10K / DUTS layout)")
    saliency_masks: Optional[str] = setting(tunable=False, help="still-image mask folder")
    stills_from_training_videos: bool = setting(
        False, tunable=False, help="the still-image steps read the training videos' annotated frames as stills "
        "(not with saliency_images or composite_stills)")
    composite_stills: str = setting(
        "off", choices=("off", "object", "union"),
        help="the still-image steps read composites, an object of one training video pasted onto a frame of "
        "another (cosnet_tf.data.composites): the mask is the pasted object (object) or it and the frame's own "
        "(union); off: not used (not with saliency_images or stills_from_training_videos)")
    model: dict = setting(
        factory=lambda: {"preset": "mobilenetv2"}, flag="--model-config", metavar="JSON", tunable=False,
        help="the [model] section, COSNet.from_preset's arguments: preset, backbone_config, backbone_weights, "
        "coattention ('none': no co-attention), coattention_config (the variant's own settings), gate_bias, "
        'head_filters, head_depth...; as a flag, JSON merged key by key, e.g. \'{"head_depth": 2}\'')
    input_size: tuple = setting((320, 320), metavar=("H", "W"), old_names=("image_size",),
                                help="training input size (a square side in a tuning space)")
    short_side: Optional[int] = setting(
        type=int, metavar="S", old_names=("inference_short_side",),
        help="the trained model's default inference input: frames scaled to short side S, aspect kept "
        "(default: input_size, fixed; cosnet_tf.inference.input_size)")
    batch_size: int = setting(4, help="pairs or groups (and still images) per batch; the global batch "
                              "under a distribution strategy")
    steps: int = setting(2000, tunable=False, help="total optimizer steps")
    checkpoint_every: int = setting(100, tunable=False, help="checkpoint (and validate) every K steps")
    val_batches: Optional[int] = setting(type=int, tunable=False, help="validation batches per check (default: all)")
    learning_rate: float = setting(2.5e-4, help="initial learning rate (polynomial decay to 0)")
    optimizer: str = setting("sgd", choices=OPTIMIZERS, help="sgd (the paper's, with momentum) or adamw")
    momentum: float = setting(0.9, help="SGD momentum")
    weight_decay: float = setting(5e-4, help="decoupled weight decay")
    decay_power: float = setting(0.9, help="power of the polynomial learning-rate decay")
    head_lr_multiplier: float = setting(10.0, help="learning-rate multiple of the co-attention and heads")
    summary_dropout: float = setting(0.0, help="share of samples trained without co-attention (also trains N = 0)")
    query_feature_dropout: float = setting(
        0.0, help="share of training frames segmented from their gated summary alone, their own features zeroed "
        "in the head's input (COSNetTrainer's query_feature_dropout; not in the paper)")
    reference_path_only: bool = setting(
        False, help="train only the co-attention, the gate and the summary half of the heads' first kernels; "
        "N = 0 stays exactly as loaded (not in the paper)")
    training_references: int = setting(
        1, help="references per training sample: 1, the paper's pairs; K > 1, groups of K + 1 frames of one video, "
        "each segmented with the mean of its K gated summaries (Eq. 13, as cosnet segment fuses N references)")
    class_balance: float = setting(1.0, help="1: Eq. 11's class-balanced loss, 0: plain cross-entropy")
    dice_weight: float = setting(0.0, help="weight of a per-frame Dice loss added to Eq. 11 (not in the paper)")
    paste_distractors: float = setting(
        0.0, help="probability that a training frame gets another video's object pasted in as background "
        "(cosnet_tf.data.distractors)")
    augmentation: dict = setting(
        factory=dict, help="augmentation settings over the defaults (cosnet_tf.data.AugmentationConfig fields), "
        "e.g. '{\"hue_delta\": 0.5}'; the colour jitter is drawn once per pair or group", tunable=False)
    video_steps: int = setting(2, help="video steps per cycle")
    image_steps: int = setting(1, help="still-image steps per cycle")
    freeze_backbone_batch_norm: bool = setting(True, help="keep the backbone's batch-norm statistics fixed")
    freeze_backbone: bool = setting(False, help="train only the co-attention and heads, on fixed features")
    frozen_backbone_blocks: int = setting(
        0, help="keep the backbone's stem and first K blocks at their start weights (MobileNetV2: 17 blocks, "
        "6 before stride 16); the rest trains")
    initial_weights: Optional[str] = setting(
        tunable=False, help="a .keras COSNet whose weights start the run (e.g. an earlier run's final.keras); "
        "[model] must describe the same network; the run's own checkpoint, once it has one, wins")
    strategy: str = setting(
        "auto", choices=STRATEGIES, tunable=False,
        help="tf.distribute strategy: auto (mirrored when several GPUs are visible), none, mirrored (local GPUs "
        "or devices), multi-worker (from TF_CONFIG); batch_size is then the global batch")
    devices: Optional[list] = setting(
        nargs="+", tunable=False, help="devices of the mirrored strategy, e.g. /gpu:0 /gpu:1 (/cpu:K: logical CPUs)")
    synchronized_batch_norm: bool = setting(False, help="the heads' batch norms over the global batch of all replicas")
    dtype_policy: str = setting(
        "float32", choices=DTYPE_POLICIES, tunable=False,
        help="the training network's Keras dtype policy (saved models compute in float32); auto: mixed_bfloat16 "
        "where the GPU (Ampere or later) or CPU (AMX, AVX-512 BF16) computes bf16 natively, else float32")
    run_eagerly: bool = setting(
        False, tunable=False, help="run each training and validation step eagerly, without tf.function: for "
        "debugging a setting, or runs of a few steps (no trace); far slower per step")
    seed: int = setting(0, tunable=False, help="seed of pairs and augmentation")
    verbose: int = setting(1, tunable=False, help="0 silent, 1 progress bar, 2 one line per epoch")
    benchmark: Optional[dict] = setting(
        type=dict, tunable=False, help="a synthetic benchmark written to davis_root when that folder holds no data "
        "yet: {generator = recurrence | synthetic, plus the generator's arguments}")
    video_eval_refs: Optional[list] = setting(
        nargs="+", type=int, tunable=False,
        help="after training, held-out J of the final model at these reference counts N (out/video_j.json)")

    def __post_init__(self):
        self.model = model_section(self.model)
        check_choices(self)
        if self.benchmark is not None:
            from cosnet_tf.data.benchmark_data import BENCHMARK_GENERATORS  # TensorFlow: when a config is made

            generator = self.benchmark.get("generator", "recurrence")
            if generator not in BENCHMARK_GENERATORS:
                raise ValueError(f"benchmark.generator must be 'recurrence' or 'synthetic', got {generator!r}.")
        if self.video_eval_refs is not None:
            self.video_eval_refs = [int(n) for n in self.video_eval_refs]
            if any(n < 0 for n in self.video_eval_refs):
                raise ValueError(f"video_eval_refs must be >= 0, got {self.video_eval_refs}.")
        from cosnet_tf.data.distractors import check_paste_probability  # TensorFlow: when a config is made

        self.paste_distractors = check_paste_probability(self.paste_distractors)
        self.augmentation_config()  # a wrong key or value fails here, before any data is read
        self.input_size = tuple(int(v) for v in self.input_size)
        if len(self.input_size) != 2:
            raise ValueError(f"input_size must be (height, width), got {self.input_size}.")
        for name in ("batch_size", "steps", "checkpoint_every", "video_steps", "training_references"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if int(self.frozen_backbone_blocks) < 0:
            raise ValueError(f"frozen_backbone_blocks must be >= 0, got {self.frozen_backbone_blocks}.")
        if self.steps % self.checkpoint_every:
            raise ValueError(
                f"steps ({self.steps}) must be a multiple of checkpoint_every ({self.checkpoint_every})."
            )
        if (self.saliency_images is None) != (self.saliency_masks is None):
            raise ValueError("Give both saliency_images and saliency_masks, or neither.")
        stills = [name for name, given in (("saliency_images", self.saliency_images is not None),
                                           ("stills_from_training_videos", self.stills_from_training_videos),
                                           ("composite_stills", self.composite_stills != "off")) if given]
        if len(stills) > 1:
            raise ValueError(f"{', '.join(stills)}: each names the still images; give one of them.")
        if stills and int(self.image_steps) < 1:
            raise ValueError(f"{stills[0]} feeds the still-image steps, and image_steps is {self.image_steps}: "
                             "give image_steps >= 1, or no still images.")
        if self.davis_root is None:
            raise ValueError("davis_root is required (a folder in the DAVIS-2016 layout).")

    def augmentation_config(self):
        """The `AugmentationConfig` of the training frames: its defaults, then `augmentation`.

        >>> TrainConfig(davis_root="x", augmentation={"hue_delta": 0.5}).augmentation_config().hue_delta
        0.5
        """
        from cosnet_tf.data.augmentation import DEFAULT_AUGMENTATION  # TensorFlow: when a config is made

        settings = dict(self.augmentation or {})
        known = {f.name for f in dataclasses.fields(DEFAULT_AUGMENTATION)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"augmentation: unknown setting(s) {unknown}; known: {sorted(known)}.")
        # TOML and JSON give ranges as lists; the config's ranges are tuples.
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
        try:
            return dataclasses.replace(DEFAULT_AUGMENTATION, **settings)
        except (TypeError, ValueError) as error:
            raise ValueError(f"augmentation {self.augmentation}: {error}") from None

    def training_videos(self):
        """The `DavisDataset` trained on: train_sequences, or else train_split, of davis_root."""
        from cosnet_tf.data.davis import DavisDataset  # TensorFlow: when data is read

        if self.train_sequences:
            return DavisDataset(self.davis_root, sequences=list(self.train_sequences))
        return DavisDataset(self.davis_root, split=self.train_split)

    def held_out_videos(self):
        """The `DavisDataset` validated and scored on, or None when the run has none."""
        from cosnet_tf.data.davis import DavisDataset  # TensorFlow: when data is read

        names = list(self.val_sequences) if self.val_sequences else None
        if self.val_davis_root is not None:
            return DavisDataset(self.val_davis_root, sequences=names)
        if names:
            return DavisDataset(self.davis_root, sequences=names)
        return DavisDataset(self.davis_root, split=self.val_split) if self.val_split else None

    @property
    def coattention(self):
        """The run's co-attention variant (None: none), from [model] or else its preset."""
        return model_coattention(self.model)

    @classmethod
    def from_dict(cls, values, where="config", **overrides):
        """A config from settings as read from a file (older flat model keys and old names included).

        `overrides` (None: not given) win over `values`; a `model` override is
        merged key by key into the [model] section. `recipe = "NAME"` starts from
        a named recipe's settings (`cosnet_tf.training.recipes`), under everything
        given here. A staged config (with `stages`) is refused: see `stages_from_dict`.
        """
        values = dict(values)
        if "stages" in values:
            raise ValueError(f"{where}: a staged config makes one config per stage (TrainConfig.stages_from_dict)")
        recipe = values.pop("recipe", None)
        values = with_model_section(values, where)
        if recipe is not None:
            values = merge_settings(recipe_settings(recipe, where), values)
        values = check_keys(values, cls, where)
        overrides = check_keys({k: v for k, v in overrides.items() if v is not None}, cls, where)
        model_overrides = overrides.pop("model", None) or {}
        values.update(overrides)
        values["model"] = {**values.get("model", {}), **model_overrides}
        return cls(**values)

    @classmethod
    def stages_from_dict(cls, values, where="config", **overrides):
        """[(stage name, config)] of settings with or without `stages` (without: one stage named None).

        Stage k writes into `<out>/<name>` and, unless it names its own
        `initial_weights`, starts from stage k - 1's `final.keras`. `overrides`
        win over every stage; an `out` override is the folder of the stages.
        """
        if "stages" not in values:
            return [(None, cls.from_dict(values, where, **overrides))]
        stages = stage_settings(values, where)
        overrides = check_keys({k: v for k, v in overrides.items() if v is not None}, cls, where)
        top = check_keys({k: v for k, v in values.items() if k in ("out", "run_dir")}, cls, where)
        out = overrides.pop("out", None) or top.get("out") or default_out()
        first_weights = overrides.pop("initial_weights", None)
        configs, previous = [], None
        for name, settings in stages:
            settings = {k: v for k, v in settings.items() if k not in ("out", "run_dir")}
            settings["out"] = os.path.join(out, name)
            if previous is None and first_weights is not None:
                settings["initial_weights"] = first_weights
            elif previous is not None and "initial_weights" not in settings:
                settings["initial_weights"] = os.path.join(previous, "final.keras")
            configs.append((name, cls.from_dict(settings, f"{where} [stage {name}]", **overrides)))
            previous = settings["out"]
        return configs

    @classmethod
    def from_file(cls, path, stage=None, **overrides):
        """Reads a `.toml` or `.json` file; keyword arguments override its values.

        For a staged file: the config of stage `stage` (default: the last one,
        which makes the run's final model).
        """
        stages = cls.stages_from_dict(read_config_file(path), str(path), **overrides)
        names = [name for name, _ in stages]
        if stage is None:
            return stages[-1][1]
        if stage not in names:
            raise ValueError(f"{path}: no stage {stage!r}; its stages: {names}")
        return stages[names.index(stage)][1]

    def to_dict(self):
        return dataclasses.asdict(self)


def _old_name(old, new):
    def read(self):
        warnings.warn(f"TrainConfig.{old} is now TrainConfig.{new}", FutureWarning, stacklevel=2)
        return getattr(self, new)

    return property(read, doc=f"The old name of `{new}` (read-only).")


# The names settings had before, read-only, for code written against them.
for _old, _new in renamed(TrainConfig).items():
    setattr(TrainConfig, _old, _old_name(_old, _new))


def default_out():
    """The default run folder of `TrainConfig`."""
    return next(f.default for f in dataclasses.fields(TrainConfig) if f.name == "out")
