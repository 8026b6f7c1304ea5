"""Settings files: TOML or JSON, chains of `base` files, tables merged key by key, stages.

A file may start from another: `base = "other.toml"` (a path relative to this
file's folder) reads that file first, and this file's settings win, tables such
as [model] merged key by key (see `merge_settings`). Chains of bases work; a
file that is its own base, directly or not, is refused.

A file may list stages (`[[stages]]`, each with a `name`): stage k's settings
are the file's top-level ones, then stage 1's, ..., then stage k's own
(`stage_settings`); a later stage starts from the previous stage's model unless
it names its own `initial_weights`.
"""
import json
import os

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    import tomli as tomllib


def read_config_file(path):
    """The settings of a `.toml` or `.json` file as a dict, its bases merged in; errors name the file.

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
    """`base` updated with `values`: tables merged key by key, anything else replaced.

    >>> merge_settings({"steps": 10, "model": {"preset": "x", "head_depth": 2}}, {"model": {"head_depth": 1}})
    {'steps': 10, 'model': {'preset': 'x', 'head_depth': 1}}
    """
    merged = dict(base)
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = merge_settings(merged[key], value)
        merged[key] = value
    return merged


def stage_settings(values, where="config"):
    """[(name, settings)] of a staged config: each stage over the shared settings and the stages before it.

    `values` is a config's settings with a `stages` list of tables, each with a
    `name` (the stage's folder under the run's `out`). A stage after the first
    keeps `initial_weights` only when it names them itself.

    >>> stage_settings({"steps": 10, "stages": [{"name": "a", "lr": 1}, {"name": "b", "steps": 20}]})
    [('a', {'steps': 10, 'lr': 1}), ('b', {'steps': 20, 'lr': 1})]
    """
    values = dict(values)
    stages = values.pop("stages", None)
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        raise ValueError(f"{where}: stages must be a list of tables ([[stages]] in TOML), each with a name")
    result, settings = [], values
    for index, stage in enumerate(stages, 1):
        stage = dict(stage)
        name = stage.pop("name", None)
        if not isinstance(name, str) or not name or os.sep in name or name in (".", ".."):
            raise ValueError(f"{where}: stage {index} needs a name, a plain folder name (got {name!r})")
        if name in {n for n, _ in result}:
            raise ValueError(f"{where}: two stages are named {name!r}")
        if "stages" in stage:
            raise ValueError(f"{where}: stage {name!r} lists stages of its own")
        settings = merge_settings(settings, stage)
        if index > 1 and "initial_weights" not in stage:  # the caller points it at the previous stage's model
            settings.pop("initial_weights", None)
        result.append((name, settings))
    return result
