"""The package's imports flow one way and never in a circle.

Every module of `cosnet_tf` is parsed with `ast`; every `cosnet_tf.*` import in it
(function-local ones included) is an arrow from that module to the module it names.
Two rules hold: the arrows form no cycle, and no arrow points up the layer order
below (an arrow between packages of one rank is fine). The top-level
`cosnet_tf/__init__.py` is the public facade: its own imports are exempt, and it
ranks with the CLI, the only part of the package that may import it.
"""
import ast
import pathlib

import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent / "cosnet_tf"

#: Rank of each subpackage: a module may import from its own rank or a lower one.
RANKS = {
    "utils": 0,
    "assets": 0,
    "layers": 1,
    "backbones": 1,
    "models": 2,
    "data": 3,
    "inference": 3,
    "training": 3,
    "evaluation": 3,
    "postprocessing": 3,
    "losses": 3,
    "conversion": 3,
    "tuning": 4,
    "export": 4,
    "serving": 4,
    "cli": 5,
}
FACADE = "cosnet_tf"
FACADE_RANK = RANKS["cli"]


def module_files(root=PACKAGE_ROOT):
    """{module name: path} of every module under `root` (a package's `__init__.py` is the package)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imported_names(tree, module, is_package):
    """Absolute dotted names imported anywhere in `tree` (`from a import b` gives `a.b` and `a`)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name


def import_edges(modules):
    """{module: set of cosnet_tf modules it imports}, given `module_files`' mapping."""
    edges = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for base, name in _imported_names(tree, module, path.name == "__init__.py"):
            if base != FACADE and not base.startswith(FACADE + "."):
                continue
            if name is not None and f"{base}.{name}" in modules:
                targets.add(f"{base}.{name}")  # `from package import submodule`
            elif base in modules:
                targets.add(base)
            else:
                raise AssertionError(f"{path}: imports {base!r}, which is not a module of the package")
        targets.discard(module)
        edges[module] = targets
    return edges


def rank(module):
    """The layer rank of `module` (the facade ranks with the CLI)."""
    if module == FACADE:
        return FACADE_RANK
    package = module.split(".")[1]
    if package not in RANKS:
        raise AssertionError(f"{module}: the package {package!r} has no rank; add it to RANKS")
    return RANKS[package]


def upward_arrows(edges):
    """Sorted (importer, imported) pairs that point up the layer order."""
    return sorted(
        (source, target)
        for source, targets in edges.items()
        if source != FACADE
        for target in targets
        if rank(target) > rank(source)
    )


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_checker_finds_a_cycle_and_an_upward_arrow():
    edges = {
        "cosnet_tf.utils.a": {"cosnet_tf.models.b"},
        "cosnet_tf.models.b": {"cosnet_tf.utils.a", "cosnet_tf.layers.c"},
        "cosnet_tf.layers.c": set(),
        "cosnet_tf.cli.d": {"cosnet_tf.models.b", FACADE},
        "cosnet_tf.data.e": {FACADE},
        FACADE: {"cosnet_tf.cli.d", "cosnet_tf.data.e"},
    }
    assert cycles(edges) == [
        [FACADE, "cosnet_tf.cli.d", "cosnet_tf.data.e"], ["cosnet_tf.models.b", "cosnet_tf.utils.a"]
    ]
    assert upward_arrows(edges) == [("cosnet_tf.data.e", FACADE), ("cosnet_tf.utils.a", "cosnet_tf.models.b")]


def test_the_parser_reads_function_local_relative_and_submodule_imports(tmp_path):
    package = tmp_path / "cosnet_tf"
    (package / "models").mkdir(parents=True)
    (package / "utils").mkdir()
    for path in ("__init__.py", "models/__init__.py", "utils/__init__.py", "utils/checks.py"):
        (package / path).write_text("")
    (package / "utils" / "checks.py").write_text(
        "def lazy():\n    from cosnet_tf.models import cosnet\n"
    )
    (package / "models" / "cosnet.py").write_text("from ..utils import checks\nimport cosnet_tf.utils\n")
    edges = import_edges(module_files(package))
    assert edges["cosnet_tf.utils.checks"] == {"cosnet_tf.models.cosnet"}
    assert edges["cosnet_tf.models.cosnet"] == {"cosnet_tf.utils.checks", "cosnet_tf.utils"}
    assert cycles(edges) == [["cosnet_tf.models.cosnet", "cosnet_tf.utils.checks"]]


def test_every_package_has_a_rank():
    for module in module_files():
        rank(module)


def test_no_import_cycles():
    found = cycles(import_edges(module_files()))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_imports_follow_the_layer_order():
    found = upward_arrows(import_edges(module_files()))
    assert not found, "imports against the layer order:\n" + "\n".join(f"{a} -> {b}" for a, b in found)
