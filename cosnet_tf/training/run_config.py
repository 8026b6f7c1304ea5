"""The settings of a training run, from a TOML/JSON file, flags, or both."""
import dataclasses
import json
import os
import tomllib
from typing import Optional


def read_config_file(path):
    """The settings of a `.toml` or `.json` file as a dict; errors name the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Config file not found: {path}")
    with open(path, "rb") as f:
        try:
            return tomllib.load(f) if str(path).endswith(".toml") else json.load(f)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"Cannot parse config file {path}: {error}") from error


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
    saliency_images: Optional[str] = None  # folder of images (MSRA10K / DUTS layout)
    saliency_masks: Optional[str] = None
    preset: str = "mobilenetv2"
    coattention: Optional[str] = "vanilla"
    coattention_config: dict = dataclasses.field(default_factory=dict)  # e.g. {cosine = true}
    backbone_weights: Optional[str] = None
    backbone_config: dict = dataclasses.field(default_factory=dict)
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
    class_balance: float = 1.0  # 1: Eq. 11's class-balanced loss; 0: plain cross-entropy
    orthogonality_weight: float = 1e-4
    video_steps: int = 2
    image_steps: int = 1
    freeze_backbone_batch_norm: bool = True
    # tf.distribute (cosnet_tf.training.distribution): "auto" | "none" | "mirrored" | "multi-worker";
    # devices for "mirrored" (e.g. ["/gpu:0", "/gpu:1"]); batch_size is then the global batch.
    strategy: str = "auto"
    devices: Optional[list] = None
    synchronized_batch_norm: bool = False  # the heads' batch norms over the global batch
    seed: int = 0
    verbose: int = 1
    # A synthetic benchmark written to davis_root when that folder holds no data yet:
    # {generator = "recurrence" | "synthetic", plus the generator's arguments}.
    benchmark: Optional[dict] = None
    # After training: held-out J of the final model, segmenting the validation videos as
    # `cosnet segment` does, at each of these reference counts N (run_dir/video_j.json).
    video_eval_refs: Optional[list] = None

    def __post_init__(self):
        if self.coattention == "none":
            self.coattention = None
        from cosnet_tf.training.distribution import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}.")
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
        self.image_size = tuple(int(v) for v in self.image_size)
        if len(self.image_size) != 2:
            raise ValueError(f"image_size must be (height, width), got {self.image_size}.")
        for name in ("batch_size", "steps", "checkpoint_every", "video_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.steps % self.checkpoint_every:
            raise ValueError(
                f"steps ({self.steps}) must be a multiple of checkpoint_every ({self.checkpoint_every})."
            )
        if (self.saliency_images is None) != (self.saliency_masks is None):
            raise ValueError("Give both saliency_images and saliency_masks, or neither.")
        if self.davis_root is None:
            raise ValueError("davis_root is required (a folder in the DAVIS-2016 layout).")

    @classmethod
    def from_file(cls, path, **overrides):
        """Reads a `.toml` or `.json` file; keyword arguments override its values."""
        values = read_config_file(path)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {unknown}; known: {sorted(known)}.")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)
