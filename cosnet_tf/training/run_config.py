"""The settings of a training run, from a TOML/JSON file, flags, or both."""
import dataclasses
import json
import os
import tomllib
from typing import Optional


def read_config_file(path):
    """The settings of a `.toml` or `.json` file as a dict; errors name the file.

    A file may start from another: `base = "other.toml"` (a path relative to
    this file's folder) reads that file first, and this file's settings win,
    tables such as [model] merged key by key (see `merge_settings`). Chains of
    bases work; a file that is its own base, directly or not, is refused.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "stage1.toml"), "w") as f:
    ...     _ = f.write('steps = 1000\\n[model]\\npreset = "mobilenetv2"\\ncoattention = "vanilla"\\n')
    >>> with open(os.path.join(folder, "stage1_none.toml"), "w") as f:
    ...     _ = f.write('base = "stage1.toml"\\n[model]\\ncoattention = "none"\\n')
    >>> read_config_file(os.path.join(folder, "stage1_none.toml"))
    {'steps': 1000, 'model': {'preset': 'mobilenetv2', 'coattention': 'none'}}
    """
    return _read_config_file(path, ())


def _read_config_file(path, children):
    if not os.path.exists(path):
        based_on = f" (the base of {children[-1]})" if children else ""
        raise FileNotFoundError(f"Config file not found: {path}{based_on}")
    with open(path, "rb") as f:
        try:
            values = tomllib.load(f) if str(path).endswith(".toml") else json.load(f)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"Cannot parse config file {path}: {error}") from error
    if "base" not in values:
        return values
    base = values.pop("base")
    if not isinstance(base, str):
        raise ValueError(f"{path}: base must be the path of another config file, got {base!r}.")
    base = os.path.join(os.path.dirname(path), base)
    chain = children + (path,)
    if os.path.realpath(base) in {os.path.realpath(p) for p in chain}:
        raise ValueError(f"{path}: base {base} is a file of its own chain ({' <- '.join(map(str, chain))}).")
    return merge_settings(_read_config_file(base, chain), values)


def merge_settings(base, values):
    """`base` updated with `values`: tables merged key by key, anything else replaced."""
    merged = dict(base)
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = merge_settings(merged[key], value)
        merged[key] = value
    return merged


# mixed_float16 is left out: the train step has no loss scaling, which float16 gradients need.
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "auto")

# Settings of the model that older configs gave at the top level; `with_model_section` moves
# them into [model] when a file is read, so those files keep working unchanged.
LEGACY_MODEL_KEYS = ("preset", "coattention", "coattention_config", "backbone_weights", "backbone_config")


def model_coattention(section):
    """The co-attention variant a [model] section builds: its own, or else its preset's."""
    from cosnet_tf.models.presets import preset_config

    if "coattention" in section:
        return section["coattention"]
    return preset_config(section.get("preset", "mobilenetv2"))[2].get("coattention")


def model_section(section, where="model"):
    """A checked copy of a [model] section: known keys, "none" read as no co-attention.

    The variant's settings (`coattention_config`) are checked against its layer
    here, so that a wrong key fails before any data is read.
    """
    import inspect

    from cosnet_tf.models.cosnet import COSNet

    section = dict(section or {})
    section.setdefault("preset", "mobilenetv2")
    accepted = {"preset", "backbone_config", "backbone_weights"}
    accepted |= set(inspect.signature(COSNet.__init__).parameters) - {"self", "backbone", "kwargs"}
    # Set by the training run itself: the size it trains at, and the strategy's batch norm.
    accepted -= {"inference_size", "synchronized_batch_norm"}
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
        from cosnet_tf.layers import COATTENTION_VARIANTS

        try:  # a variant's settings are its layer's arguments: checked now, not after data loading
            COATTENTION_VARIANTS[variant](**settings)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: coattention_config {settings} for the {variant!r} variant: {error}") from None
    return section


def with_model_section(values, where="config"):
    """`values` with older flat model keys moved into its [model] section.

    `orthogonality_weight`, once a top-level setting, is the symmetric
    variant's own (lambda of Eq. 12): it moves into `coattention_config` when
    the variant is "symmetric"; for the other variants it never applied.
    """
    values = dict(values)
    section = dict(values.pop("model", None) or {})
    for key in LEGACY_MODEL_KEYS:
        if key in values:
            if key in section:
                raise ValueError(f"{where}: {key!r} is given twice, at the top level and in [model]; "
                                 "keep the one in [model].")
            section[key] = values.pop(key)
    if "orthogonality_weight" in values:
        weight = values.pop("orthogonality_weight")
        if model_coattention(model_section(section, where)) == "symmetric":
            section["coattention_config"] = {"orthogonality_weight": weight, **section.get("coattention_config", {})}
    if section:
        values["model"] = section
    return values


@dataclasses.dataclass
class TrainConfig:
    """Everything `cosnet train` needs. Paths are resolved against the working directory.

    The defaults follow the paper where this machine allows (SGD, momentum
    0.9, polynomial decay from 2.5e-4, 10x on co-attention and heads, one
    image step per two video steps); sizes and batch are CPU-sized.
    """

    run_dir: str = "runs/cosnet"
    davis_root: Optional[str] = None
    train_sequences: Optional[list] = None  # names, or None for the split file
    val_sequences: Optional[list] = None
    train_split: Optional[str] = "train"
    val_split: Optional[str] = "val"
    # Held-out videos from another DAVIS-layout root (e.g. DAVIS-2016 validation sequences, never
    # trained on): val_sequences of it, or all of its sequences; val_split is then not used.
    val_davis_root: Optional[str] = None
    saliency_images: Optional[str] = None  # folder of images (MSRA10K / DUTS layout)
    saliency_masks: Optional[str] = None
    # True: the still-image steps read the training videos' annotated frames as stills
    # (SaliencyDataset.from_videos) instead of a saliency set; not with saliency_images.
    stills_from_training_videos: bool = False
    # [model]: the arguments of `COSNet.from_preset`, passed to it unchanged: preset,
    # backbone_config, backbone_weights, coattention ("none" for no co-attention),
    # coattention_config (the variant's own settings: cosine, orthogonality_weight = lambda of
    # Eq. 12 for "symmetric", hidden_units for "channel"), gate_bias, head_filters, head_depth...
    model: dict = dataclasses.field(default_factory=lambda: {"preset": "mobilenetv2"})
    image_size: tuple = (320, 320)
    # The trained model's default input at inference: frames scaled to this short side with
    # their aspect kept (None: image_size, a fixed size). See cosnet_tf.inference.input_size.
    inference_short_side: Optional[int] = None
    batch_size: int = 4
    steps: int = 2000
    checkpoint_every: int = 100
    val_batches: Optional[int] = None  # None: one pass over the validation pairs
    learning_rate: float = 2.5e-4
    optimizer: str = "sgd"  # "sgd" (the paper's, with momentum) or "adamw"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    decay_power: float = 0.9
    head_lr_multiplier: float = 10.0
    summary_dropout: float = 0.0  # > 0 also trains the N = 0 (no reference) mode
    # > 0: that share of training frames is segmented from its gated summary alone, its own
    # features zeroed in the head's input (COSNetTrainer's query_feature_dropout; not in the paper).
    query_feature_dropout: float = 0.0
    # Train only the co-attention, the gate and the summary half of the heads' first kernels;
    # N = 0 stays exactly as loaded (COSNetTrainer's reference_path_only; not in the paper).
    reference_path_only: bool = False
    # Reference frames per training sample: 1, the paper's pairs; K > 1, groups of K + 1 frames
    # of one video, each segmented with the mean of its K gated summaries (Eq. 13 at training
    # time, as `cosnet segment` fuses N references). batch_size counts groups.
    training_references: int = 1
    class_balance: float = 1.0  # 1: Eq. 11's class-balanced loss; 0: plain cross-entropy
    dice_weight: float = 0.0  # > 0 adds a per-frame Dice loss to Eq. 11 (not in the paper)
    # Probability that a training frame gets another video's object pasted in as background, a
    # distractor the pair's other frame lacks (cosnet_tf.data.distractors); 0: none.
    paste_distractors: float = 0.0
    # The training frames' augmentation: fields of cosnet_tf.data.AugmentationConfig that replace
    # its defaults, e.g. {hue_delta = 0.5} (hue rotated by up to half the colour circle). The
    # colour jitter is drawn once per pair or group, so an object keeps its look across the
    # frames compared while its colour changes from sample to sample.
    augmentation: dict = dataclasses.field(default_factory=dict)
    video_steps: int = 2
    image_steps: int = 1
    freeze_backbone_batch_norm: bool = True
    freeze_backbone: bool = False  # train only the co-attention and heads, on fixed features
    # k > 0: the backbone's stem and first k blocks keep their weights (MobileNetV2: 17 blocks,
    # 6 of them before stride 16); the rest trains (COSNetTrainer's frozen_backbone_blocks).
    frozen_backbone_blocks: int = 0
    # A `.keras` COSNet (e.g. final.keras of an earlier run, or a shipped model) whose weights
    # start this run instead of [model]'s initialisation; [model] must describe the same
    # network. A run's own checkpoint, once it has one, wins. Two-stage training: a
    # freeze_backbone run, then a run from its final.keras with the backbone trained.
    initial_weights: Optional[str] = None
    # tf.distribute (cosnet_tf.training.distribution): "auto" | "none" | "mirrored" | "multi-worker";
    # devices for "mirrored" (e.g. ["/gpu:0", "/gpu:1"]); batch_size is then the global batch.
    strategy: str = "auto"
    devices: Optional[list] = None
    synchronized_batch_norm: bool = False  # the heads' batch norms over the global batch
    # Keras dtype policy of the training network: "float32", "mixed_bfloat16" (bf16 compute,
    # float32 weights; 1.2-1.4x faster steps on a CPU with AMX, docs/coattention.md), or "auto"
    # (mixed_bfloat16 where the hardware computes bf16 natively, else float32:
    # cosnet_tf.utils.dtype_policy.resolve_dtype_policy). The saved final.keras / best.keras
    # always compute in float32.
    dtype_policy: str = "float32"
    seed: int = 0
    verbose: int = 1
    # A synthetic benchmark written to davis_root when that folder holds no data yet:
    # {generator = "recurrence" | "synthetic", plus the generator's arguments}.
    benchmark: Optional[dict] = None
    # After training: held-out J of the final model, segmenting the validation videos as
    # `cosnet segment` does, at each of these reference counts N (run_dir/video_j.json).
    video_eval_refs: Optional[list] = None

    def __post_init__(self):
        self.model = model_section(self.model)
        from cosnet_tf.training.distribution import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}.")
        if self.dtype_policy not in DTYPE_POLICIES:
            raise ValueError(f"dtype_policy must be one of {DTYPE_POLICIES}, got {self.dtype_policy!r}.")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}.")
        if self.benchmark is not None:
            from cosnet_tf.data.benchmark_data import BENCHMARK_GENERATORS

            generator = self.benchmark.get("generator", "recurrence")
            if generator not in BENCHMARK_GENERATORS:
                raise ValueError(f"benchmark.generator must be 'recurrence' or 'synthetic', got {generator!r}.")
        if self.video_eval_refs is not None:
            self.video_eval_refs = [int(n) for n in self.video_eval_refs]
            if any(n < 0 for n in self.video_eval_refs):
                raise ValueError(f"video_eval_refs must be >= 0, got {self.video_eval_refs}.")
        from cosnet_tf.data.distractors import check_paste_probability

        self.paste_distractors = check_paste_probability(self.paste_distractors)
        self.augmentation_config()  # a wrong key or value fails here, before any data is read
        self.image_size = tuple(int(v) for v in self.image_size)
        if len(self.image_size) != 2:
            raise ValueError(f"image_size must be (height, width), got {self.image_size}.")
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
        if self.stills_from_training_videos and self.saliency_images is not None:
            raise ValueError("stills_from_training_videos and saliency_images both name the still images; "
                             "give one of them.")
        if self.davis_root is None:
            raise ValueError("davis_root is required (a folder in the DAVIS-2016 layout).")

    def augmentation_config(self):
        """The `AugmentationConfig` of the training frames: its defaults, then `augmentation`.

        >>> TrainConfig(davis_root="x", augmentation={"hue_delta": 0.5}).augmentation_config().hue_delta
        0.5
        """
        from cosnet_tf.data.augmentation import DEFAULT_AUGMENTATION

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
        from cosnet_tf.data.davis import DavisDataset

        if self.train_sequences:
            return DavisDataset(self.davis_root, sequences=list(self.train_sequences))
        return DavisDataset(self.davis_root, split=self.train_split)

    def held_out_videos(self):
        """The `DavisDataset` validated and scored on, or None when the run has none."""
        from cosnet_tf.data.davis import DavisDataset

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
        """A config from settings as read from a file (older flat model keys included).

        `overrides` win over `values`; a `model` override is merged key by key
        into the [model] section. `recipe = "NAME"` starts from a named recipe's
        settings (`cosnet_tf.training.recipes`), under everything given here.
        """
        values = dict(values)
        recipe = values.pop("recipe", None)
        values = with_model_section(values, where)
        if recipe is not None:
            from cosnet_tf.training.recipes import recipe_settings

            values = merge_settings(recipe_settings(recipe, where), values)
        model_overrides = overrides.pop("model", None) or {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}.")
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["model"] = {**values.get("model", {}), **model_overrides}
        return cls(**values)

    @classmethod
    def from_file(cls, path, **overrides):
        """Reads a `.toml` or `.json` file; keyword arguments override its values."""
        return cls.from_dict(read_config_file(path), where=str(path), **overrides)

    def to_dict(self):
        return dataclasses.asdict(self)
