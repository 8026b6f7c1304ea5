"""`cosnet train`: train COSNet with model.fit from a config file and/or flags."""
import json

from cosnet_tf.training.run_config import DTYPE_POLICIES, TrainConfig, read_config_file, with_model_section

# flag name -> setting of the [model] section (COSNet.from_preset's arguments)
_MODEL_FLAGS = {
    "preset": dict(help="mobilenetv2 | resnet50 | resnet101_official"),
    "coattention": dict(help="vanilla | symmetric | channel | none"),
    "backbone_weights": dict(help="Keras .h5 backbone weights (by layer name) or 'imagenet'"),
    "backbone_config": dict(type=json.loads, help='backbone overrides as JSON, e.g. \'{"output_stride": 16}\''),
    "coattention_config": dict(type=json.loads, help='co-attention settings as JSON, e.g. \'{"cosine": true}\''),
}

_BOOLEAN = dict(type=lambda v: {"true": True, "false": False}[v.lower()], metavar="true|false")

# flag name -> TrainConfig field
_FLAGS = {
    "run_dir": dict(help="run folder: checkpoints, logs, best.keras, final.keras"),
    "davis_root": dict(help="DAVIS-2016 layout root (JPEGImages/480p, Annotations/480p)"),
    "train_sequences": dict(nargs="+", help="training sequence names (default: the train split file)"),
    "val_sequences": dict(nargs="+", help="validation sequence names (default: the val split file)"),
    "val_davis_root": dict(help="held-out videos from another DAVIS-layout root (--val-sequences of it, or all)"),
    "saliency_images": dict(help="still-image folder (MSRA10K / DUTS layout)"),
    "saliency_masks": dict(help="still-image mask folder"),
    "stills_from_training_videos": dict(
        **_BOOLEAN, help="the still-image steps read the training videos' annotated frames as stills",
    ),
    "image_size": dict(nargs=2, type=int, metavar=("H", "W"), help="training size"),
    "inference_short_side": dict(type=int, help="the model's default inference input: short side S, aspect kept"),
    "batch_size": dict(type=int, help="pairs (and still images) per batch"),
    "steps": dict(type=int, help="total optimizer steps"),
    "checkpoint_every": dict(type=int, help="checkpoint (and validate) every K steps"),
    "val_batches": dict(type=int, help="validation batches per check (default: all)"),
    "learning_rate": dict(type=float, help="initial learning rate (polynomial decay to 0)"),
    "optimizer": dict(choices=("sgd", "adamw"), help="sgd (the paper's, momentum 0.9) or adamw"),
    "weight_decay": dict(type=float, help="decoupled weight decay"),
    "head_lr_multiplier": dict(type=float, help="learning-rate multiple of the co-attention and heads (10)"),
    "summary_dropout": dict(type=float, help="share of pairs trained without co-attention (N = 0)"),
    "query_feature_dropout": dict(
        type=float, help="share of training frames segmented from their gated summary alone (own features zeroed)",
    ),
    "reference_path_only": dict(
        **_BOOLEAN, help="train only the co-attention, gate and the heads' weights on the summary; "
        "N = 0 stays as loaded",
    ),
    "training_references": dict(
        type=int, help="references per training sample: 1, pairs; K > 1, each frame of a group of K + 1 "
        "segmented with the mean of its K gated summaries (Eq. 13, as at test time)",
    ),
    "class_balance": dict(type=float, help="1: Eq. 11's class-balanced loss, 0: plain cross-entropy"),
    "dice_weight": dict(type=float, help="weight of a per-frame Dice loss added to Eq. 11 (default 0)"),
    "paste_distractors": dict(type=float, help="probability of another video's object pasted into a frame as background"),
    "augmentation": dict(
        type=json.loads, metavar="JSON",
        help='augmentation settings over the defaults (AugmentationConfig fields), e.g. \'{"hue_delta": 0.5}\'',
    ),
    "video_steps": dict(type=int, help="video steps per cycle"),
    "image_steps": dict(type=int, help="still-image steps per cycle"),
    "video_eval_refs": dict(nargs="+", type=int, help="after training, held-out J at these N (e.g. 0 5)"),
    "seed": dict(type=int, help="seed of pairs and augmentation"),
    "strategy": dict(
        choices=("auto", "none", "mirrored", "multi-worker"),
        help="tf.distribute strategy: auto (mirrored when several GPUs are visible), none, mirrored "
        "(local GPUs or --devices), multi-worker (from TF_CONFIG); --batch-size is then the global batch",
    ),
    "devices": dict(nargs="+", help="devices of the mirrored strategy, e.g. /gpu:0 /gpu:1 (/cpu:K: logical CPUs)"),
    "initial_weights": dict(help="a .keras COSNet whose weights start the run (e.g. an earlier run's final.keras)"),
    "freeze_backbone": dict(
        **_BOOLEAN,
        help="train only the co-attention and heads, on the backbone's fixed features",
    ),
    "frozen_backbone_blocks": dict(
        type=int,
        help="keep the backbone's stem and first K blocks at their start weights (MobileNetV2: 17 blocks, "
        "6 before stride 16); the rest trains",
    ),
    "synchronized_batch_norm": dict(
        **_BOOLEAN,
        help="the heads' batch norms over the global batch of all replicas",
    ),
    "dtype_policy": dict(
        choices=DTYPE_POLICIES,
        help="the training network's Keras dtype policy (saved models compute in float32); auto: "
        "mixed_bfloat16 where the GPU (Ampere or later) or CPU (AMX, AVX-512 BF16) computes bf16 natively",
    ),
    "verbose": dict(type=int, help="0 silent, 1 progress bar, 2 one line per epoch"),
}


def add_train_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a COSNet (model.fit) with checkpoints that survive kill -9",
        description="Train COSNet on DAVIS-layout videos (plus optional saliency images). "
        "Settings come from --config (TOML or JSON, fields of TrainConfig) and flags; flags win. "
        "Running the same command again resumes from the last checkpoint.",
    )
    p.add_argument("--config", help="TOML or JSON file of TrainConfig fields")
    for name, kwargs in {**_MODEL_FLAGS, **_FLAGS}.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=None, **kwargs)
    p.add_argument("--model", type=json.loads, default=None, metavar="JSON",
                   help='any settings of the [model] section as JSON, e.g. \'{"head_depth": 2}\'')
    p.add_argument("--orthogonality-weight", type=float, default=None,
                   help="lambda of Eq. 12: the symmetric variant's coattention_config.orthogonality_weight")
    p.set_defaults(func=run_train)


def config_from_args(args):
    """The config file's settings (if any), then the flags: a flag wins over the file."""
    where = args.config or "flags"
    values = with_model_section(read_config_file(args.config) if args.config else {}, where)
    # "none" stays a string here (the [model] section reads it as no co-attention): a None
    # would be taken for "flag not given" and the config file's variant would win.
    model = {**values.get("model", {}), **(args.model or {})}
    model.update({name: getattr(args, name) for name in _MODEL_FLAGS if getattr(args, name) is not None})
    if args.orthogonality_weight is not None:
        model["coattention_config"] = {**model.get("coattention_config", {}),
                                       "orthogonality_weight": args.orthogonality_weight}
    values.update({name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None})
    values["model"] = model
    return TrainConfig.from_dict(values, where)


def run_train(args):
    from cosnet_tf.training.run import train

    result = train(config_from_args(args))
    if result["error"]:
        raise RuntimeError(result["error"])
    print(json.dumps({k: v for k, v in result.items() if k != "error"}, indent=2, default=float))
