"""`cosnet train`: train COSNet with model.fit from a config file and/or flags.

The flags are made from `TrainConfig`'s declarations (cosnet_tf.training.run_config): one
flag per setting, with the same name, help and default as in a config file.
"""
import argparse
import dataclasses
import json

from cosnet_tf.cli.flags import HelpFormatter, add_alias, add_switch, warn
from cosnet_tf.training.run_config import ModelFlags, TrainConfig, with_model_section
from cosnet_tf.training.settings import flag_spec
from cosnet_tf.training.settings_file import read_config_file


def _add_setting_flags(parser, dataclass):
    for field in dataclasses.fields(dataclass):
        flag, kwargs, switch = flag_spec(field)
        if switch:
            add_switch(parser, flag, default=None, dest=field.name, legacy_values=True, help=kwargs["help"])
        else:
            parser.add_argument(flag, dest=field.name, default=None, **kwargs)
        for old in field.metadata["old_names"]:
            add_alias(parser, "--" + old.replace("_", "-"), flag)


def _model_json_alias(text):
    warn("--model JSON is deprecated, use --model-config JSON (--model names a .keras file or preset elsewhere)")
    return json.loads(text)


def add_train_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a COSNet (model.fit) with checkpoints that survive kill -9",
        formatter_class=HelpFormatter,
        description="Train COSNet on DAVIS-layout videos (plus optional saliency images). "
        "Settings come from --config (TOML or JSON, fields of TrainConfig) and flags; flags win. "
        "A config with [[stages]] runs them in order into --out/<stage>/ and ends with --out/final.keras. "
        "Running the same command again resumes from the last checkpoint.",
    )
    p.add_argument("--config", help="TOML or JSON file of TrainConfig fields (and optionally [[stages]])")
    _add_setting_flags(p, TrainConfig)
    _add_setting_flags(p, ModelFlags)
    p.add_argument("--model", dest="model_json", type=_model_json_alias, default=None, help=argparse.SUPPRESS)
    # Eq. 12's lambda once had a flag of its own; it is the symmetric layer's setting now.
    p.add_argument("--orthogonality-weight", dest="orthogonality_weight", type=float, default=None,
                   help=argparse.SUPPRESS)
    p.set_defaults(func=run_train)


def _settings_from_args(args):
    """(the config file's settings, the flags' settings): a flag wins over the file."""
    values = read_config_file(args.config) if args.config else {}
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    # "none" stays a string here (the [model] section reads it as no co-attention): a None
    # would be taken for "flag not given" and the config file's variant would win.
    model = {**(args.model_json or {}), **(args.model or {})}
    model.update({f.name: getattr(args, f.name) for f in dataclasses.fields(ModelFlags)
                  if getattr(args, f.name) is not None})
    if args.orthogonality_weight is not None:
        warn("--orthogonality-weight is deprecated, use --coattention-config '{\"orthogonality_weight\": W}'")
        from_file = with_model_section(values).get("model", {}).get("coattention_config", {})
        model["coattention_config"] = {**from_file, **model.get("coattention_config", {}),
                                       "orthogonality_weight": args.orthogonality_weight}
    overrides["model"] = model
    return values, overrides


def config_from_args(args):
    """The `TrainConfig` of the command line (the last stage of a staged config)."""
    return stages_from_args(args)[-1][1]


def stages_from_args(args):
    """[(stage name or None, TrainConfig)] of the command line."""
    values, overrides = _settings_from_args(args)
    return TrainConfig.stages_from_dict(values, args.config or "flags", **overrides)


def run_train(args):
    from cosnet_tf.training.run import train, train_stages  # TensorFlow: only when training

    stages = stages_from_args(args)
    if stages[0][0] is None:
        result = train(stages[0][1])
    else:
        result = train_stages(stages)
    if result["error"]:
        raise RuntimeError(result["error"])
    print(json.dumps({k: v for k, v in result.items() if k != "error"}, indent=2, default=float))
