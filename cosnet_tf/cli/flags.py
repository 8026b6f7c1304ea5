"""The CLI's one vocabulary: the same flag for the same idea in every subcommand.

| idea | flag |
|---|---|
| a model (a `.keras` file or a preset name) | `--model` |
| what to read | the positional `INPUT` |
| the folder a command writes | `--out` |
| the network's input size | `--input-size H W` (fixed) or `--short-side S` (aspect kept) |
| references | `--refs N`, `--sampling`, `--seed` |
| an on/off setting | `--name` / `--no-name` |

The flags several commands share are declared once, here: `add_model_argument`,
`add_reference_arguments`, `add_fusion_argument`, `add_size_arguments`.

Old spellings stay one release as hidden aliases (`add_alias`) that print a warning naming the
new flag. This module imports only the standard library (and `cosnet_tf.utils.choices`, which
imports nothing), so `cosnet --help` stays fast.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="demo", formatter_class=HelpFormatter)
    >>> _ = parser.add_argument("--out", default="runs/x", help="output folder")
    >>> add_alias(parser, "--out-dir", "--out")
    >>> add_switch(parser, "--crf", default=False, help="refine with a dense CRF")
    >>> parser.parse_args(["--out-dir", "o", "--crf"])  # doctest: +SKIP
    cosnet: warning: --out-dir is deprecated, use --out
    Namespace(out='o', crf=True)
"""
import argparse
import sys
import textwrap

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where it has none (None, off switches, suppressed).

    Descriptions keep their line breaks (lists, examples); a line longer than the terminal is wrapped.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "%(default)" in text or "(default" in text or isinstance(action, _Switch):
            return text
        if default is None or default is argparse.SUPPRESS or default is False:
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text
        if isinstance(default, (list, tuple)):
            default = " ".join(map(str, default))
        return f"{text} (default: {str(default).replace('%', '%%')})"

    def _fill_text(self, text, width, indent):
        lines = []
        for line in text.splitlines():
            if len(indent + line) <= width:
                lines.append(indent + line)
                continue
            margin = indent + line[: len(line) - len(line.lstrip())]
            lines.append(textwrap.fill(line.strip(), width, initial_indent=margin, subsequent_indent=margin))
        return "\n".join(lines)


def warn(message):
    """One line on stderr, in the CLI's own voice."""
    print(f"cosnet: warning: {message}", file=sys.stderr)


def parse_bool(text):
    """'true'/'false' (also 1/0, yes/no, on/off) -> bool; anything else is an argparse error."""
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class _Alias(argparse.Action):
    """A hidden old spelling: warns, converts, then stores into the new flag's destination."""

    def __init__(self, option_strings, dest, new_flag=None, convert=None, **kwargs):
        self.new_flag = new_flag
        self.convert = convert
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        warn(f"{option_string} is deprecated, use {self.new_flag}")
        if self.convert is not None:
            values = self.convert(values)
        setattr(namespace, self.dest, values)


def add_alias(parser, old, new, *, dest=None, nargs=None, type=None, convert=None):
    """Accepts `old` as a hidden, warning spelling of the flag `new`.

    Args:
        parser: the subcommand's parser, where `new` is already defined.
        old: the old flag, e.g. "--out-dir".
        new: the flag to use instead, e.g. "--out" (named in the warning).
        dest: where the value goes (default: `new`'s destination).
        nargs, type: how the old flag read its value (default: as `new` does).
        convert: maps the old value onto the new flag's meaning.
    """
    target = next((a for a in parser._actions if new in a.option_strings), None)
    if dest is None:
        if target is None:
            raise ValueError(f"{new} is not a flag of {parser.prog}")
        dest = target.dest
    if target is not None and nargs is None and type is None:
        nargs = 0 if target.nargs == 0 else target.nargs
        type = target.type
    if nargs == 0:  # an old switch: stores the new flag's constant
        constant = getattr(target, "const", True)
        parser.add_argument(old, dest=dest, nargs=0, action=_Alias, new_flag=new,
                            convert=lambda _values: True if constant is None else constant)
        return
    parser.add_argument(old, dest=dest, nargs=nargs, type=type, action=_Alias, new_flag=new, convert=convert)


class _Switch(argparse.Action):
    """`--name` / `--no-name`; with `legacy_values`, also the old `--name true|false` (warns)."""

    def __init__(self, option_strings, dest, legacy_values=False, **kwargs):
        self.legacy_values = legacy_values
        kwargs.setdefault("nargs", "?" if legacy_values else 0)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        value = not option_string.startswith("--no-")
        if values not in (None, []):
            flag = option_string.replace("--no-", "--")
            warn(f"{option_string} {values} is deprecated, use {flag} or --no-{flag[2:]}")
            value = parse_bool(values) if value else not parse_bool(values)
        setattr(namespace, self.dest, value)

    def format_usage(self):
        return " | ".join(self.option_strings)


def add_switch(parser, flag, *, default=False, help=None, dest=None, legacy_values=False):
    """An on/off setting: `--flag` turns it on, `--no-flag` off.

    Args:
        parser: where to add it.
        flag: "--name".
        default: the value when neither is given (None: "not given", for settings merged later).
        help: what turning it on does.
        dest: the attribute (default: from the flag).
        legacy_values: also accept the old `--flag true|false` (with a warning). Only for parsers
            without positional arguments, which the optional value would swallow.
    """
    negative = "--no-" + flag[2:]
    shown = "" if default is None else f" (default: {'on' if default else 'off'})"
    parser.add_argument(flag, negative, dest=dest or flag[2:].replace("-", "_"), default=default,
                        action=_Switch, legacy_values=legacy_values,
                        help=(help or "") + shown.replace("%", "%%"),
                        **({"metavar": "true|false"} if legacy_values else {}))


def at_least(minimum):
    """An argparse `type`: an integer >= `minimum`, else a usage error naming the bound.

    Example:
        >>> at_least(1)("4")
        4
    """

    def convert(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    convert.__name__ = f"integer >= {minimum}"
    return convert


def add_model_argument(parser, *, required=False, default=None,
                       default_text="the shipped model, cosnet_mobilenetv2_davis", help=None):
    """`--model`: a saved `.keras` file or a preset name (resolved when the command runs).

    Args:
        parser: where to add it.
        required: no default model.
        default: the value when not given (None: the command picks, as `default_text` says).
        default_text: what None means, shown in the help.
        help: what the model is for, before the default.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_model_argument(parser)
        >>> parser.parse_args(["--model", "mobilenetv2"]).model
        'mobilenetv2'
    """
    text = help or "the model: a saved .keras file (path) or a preset name"
    if default is None and not required and default_text:
        text += f" (default: {default_text})"
    parser.add_argument("--model", default=default, required=required, metavar="PATH|PRESET",
                        help=text.replace("%", "%%"))


def add_reference_arguments(parser, *, refs=5, minimum=0, seed=True):
    """`--refs N`, `--sampling` and (with `seed`) `--seed`: the N reference frames of each query.

    Args:
        parser: where to add them.
        refs: the default N.
        minimum: the smallest N accepted (a usage error below it).
        seed: also add `--seed` (of the random sampling).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_reference_arguments(parser, minimum=1)
        >>> parser.parse_args(["--refs", "3"])
        Namespace(refs=3, sampling='uniform', seed=0)
    """
    from cosnet_tf.utils.choices import SAMPLING_STRATEGIES

    parser.add_argument("--refs", type=at_least(minimum), default=refs, metavar="N",
                        help=f"reference frames per query, N >= {minimum}")
    parser.add_argument("--sampling", choices=SAMPLING_STRATEGIES, default=SAMPLING_STRATEGIES[0],
                        help="how references are chosen (Table 1): global uniform, global random, "
                        "or the N frames nearest the query")
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="seed of --sampling random")


def add_fusion_argument(parser):
    """`--fusion`: how N references are combined."""
    from cosnet_tf.utils.choices import FUSIONS

    parser.add_argument("--fusion", choices=FUSIONS, default=None,
                        help="fuse the N gated summaries (attention, Eq. 13), the N predictions, or attend to all N "
                        "references in one softmax (joint) (default: the model's own, attention for the shipped model)")


def add_size_arguments(parser, *, short_side=True, default_text="the model's own"):
    """`--input-size H W` (a fixed size) and, with `short_side`, `--short-side S` (aspect kept).

    The two exclude each other. Destinations: `input_size` ([H, W] or None), `short_side`.

    Args:
        parser: where to add them.
        short_side: also offer `--short-side` (for commands that can keep the frames' aspect).
        default_text: the size used when neither is given, shown in the help.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = add_size_arguments(parser)
        >>> parser.parse_args(["--short-side", "320"])
        Namespace(input_size=None, short_side=320)
    """
    group = parser.add_mutually_exclusive_group() if short_side else parser
    group.add_argument("--input-size", nargs=2, type=at_least(1), metavar=("H", "W"),
                       help=f"fixed size the model sees (default: {default_text})")
    if short_side:
        group.add_argument("--short-side", type=at_least(1), metavar="S",
                           help="scale frames to a short side of about S pixels, keeping their aspect "
                           f"(sides rounded to the output stride; default: {default_text})")
    return group
