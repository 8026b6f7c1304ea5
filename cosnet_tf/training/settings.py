"""Settings declared once: each field's default, help and choices serve TOML, flags and the tuner.

A settings dataclass (`TrainConfig`) declares every field with `setting(...)`, a
`dataclasses.field` whose metadata carries the field's help, its choices, its
old names and, where the field's default does not tell, how a flag reads it.
From that one declaration:

* `cosnet train` generates its flags (`flag_spec`),
* a TOML/JSON file is read (`check_keys`: unknown keys are refused with a close
  match, old names are read with a warning),
* `cosnet tune` knows its training axes (every field is one).

Standard-library dataclass metadata rather than pydantic or attrs: no new
dependency, and `TrainConfig` already is a dataclass that the code copies with
`dataclasses.replace` and writes with `dataclasses.asdict`. This module imports
only the standard library, so declaring settings never starts TensorFlow.

Example:
    >>> @dataclasses.dataclass
    ... class Run:
    ...     steps: int = setting(100, help="optimizer steps")
    ...     out: str = setting("runs/x", help="run folder", old_names=("run_dir",))
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_keys({"run_dir": "runs/y"}, Run, "run.toml")
    {'out': 'runs/y'}
    >>> str(caught[0].message)
    "run.toml: 'run_dir' is now called 'out'"
    >>> check_keys({"stpes": 3}, Run, "run.toml")
    Traceback (most recent call last):
    ...
    ValueError: run.toml: unknown setting 'stpes' (did you mean 'steps'?); known: ['out', 'steps']
"""
import dataclasses
import difflib
import json
import warnings


def setting(default=None, *, help, choices=None, type=None, nargs=None, metavar=None, factory=None,
            flag=None, old_names=(), tunable=True):
    """A dataclass field declared with everything the CLI, files and the tuner need.

    Args:
        default: the value when nothing sets it (use `factory` for a dict or list).
        help: one line for `--help` (the default is appended there).
        choices: the values allowed (checked by `check_choices`, offered by the flag).
        type, nargs, metavar: how the flag reads its value where the default does not tell
            (a bool is an on/off switch, a dict reads JSON, a tuple reads that many ints).
        factory: a zero-argument callable giving the default (dataclasses' default_factory).
        flag: the flag, when it is not `--` plus the name with dashes.
        old_names: earlier names of the setting, still read from files and flags with a warning.
        tunable: whether `cosnet tune` may search over it.
    """
    metadata = dict(help=help, choices=tuple(choices) if choices else None, type=type, nargs=nargs,
                    metavar=metavar, flag=flag, old_names=tuple(old_names), tunable=tunable)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def default_of(field):
    """A field's default value (its factory called)."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def flag_name(field):
    """The flag of a field: `--out` for `out`, or the one its declaration names."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def flag_spec(field):
    """(flag, argparse keyword arguments, whether it is an on/off switch) for one field.

    The default is not given to argparse (a flag not given must not override
    a config file); it is written into the help instead.
    """
    meta = field.metadata
    default = default_of(field)
    shown = default
    if isinstance(default, bool):
        shown = "on" if default else "off"
    elif isinstance(default, (list, tuple)):
        shown = " ".join(map(str, default))
    elif isinstance(default, dict):
        shown = json.dumps(default)
    text = meta["help"] + ("" if default is None else f" (default: {shown})")
    if isinstance(default, bool):
        return flag_name(field), dict(help=text), True
    kwargs = dict(help=text.replace("%", "%%"))
    for key in ("type", "nargs", "metavar", "choices"):
        if meta.get(key) is not None:
            kwargs[key] = meta[key]
    if isinstance(default, dict) or meta.get("type") is dict:
        kwargs.update(type=json.loads, metavar=meta.get("metavar") or "JSON")
    elif isinstance(default, tuple):
        kwargs.setdefault("nargs", len(default))
        kwargs.setdefault("type", type(default[0]))
    elif default is not None and "type" not in kwargs and not isinstance(default, str):
        kwargs["type"] = type(default)
    return flag_name(field), kwargs, False


def renamed(dataclass):
    """{old name: new name} of every field of `dataclass` that was renamed."""
    return {old: f.name for f in dataclasses.fields(dataclass) for old in f.metadata.get("old_names", ())}


def check_keys(values, dataclass, where, extra=()):
    """`values` with old names renamed (with a warning); unknown keys refused with a close match.

    Args:
        values: settings as read from a file or given in code.
        dataclass: the settings class whose fields are the known keys.
        where: the file (or caller) named in warnings and errors.
        extra: keys accepted besides the fields (handled by the caller).
    """
    values = dict(values)
    for old, new in renamed(dataclass).items():
        if old in values:
            warnings.warn(f"{where}: {old!r} is now called {new!r}", FutureWarning, stacklevel=3)
            if new in values:
                raise ValueError(f"{where}: {old!r} and {new!r} are the same setting; keep {new!r}")
            values[new] = values.pop(old)
    reject_unknown(values, {f.name for f in dataclasses.fields(dataclass)} | set(extra), where)
    return values


def reject_unknown(keys, known, where, what="setting"):
    """Raises a ValueError naming the first of `keys` not in `known`, with the closest known one."""
    known = sorted(known)
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where}: unknown {what} {key!r}{hint}; known: {known}")


def check_choices(instance):
    """Raises a ValueError naming the first field whose value is not among its declared choices."""
    for field in dataclasses.fields(instance):
        choices = field.metadata.get("choices")
        value = getattr(instance, field.name)
        if choices and value not in choices:
            raise ValueError(f"{field.name} must be one of {choices}, got {value!r}.")
