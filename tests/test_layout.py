"""The folders are the architecture: imports run one way, from the command line down to
the values, and no two modules import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import bulk

PACKAGE = Path(bulk.__file__).parent
# Lowest first: a module may import from its own floor or any floor below it.
FLOORS = [
    "emulator",  # shares nothing with the client (test_api keeps it so); the CLI serves it
    "_shared",
    "_reading",
    "_validating",
    "_output",
    "_http",
    "_running",
    "_operations",
    "_cli",
    "",  # the face and the entry points
]


def imports() -> dict[str, set[str]]:
    """Each module of bulk/ and the modules of bulk/ it imports, anywhere in it."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(("bulk", *path.relative_to(PACKAGE).with_suffix("").parts))
        package = name.removesuffix(".__init__").rsplit(".", 1)[0]
        if path.name == "__init__.py":
            package = name.removesuffix(".__init__")
        found[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
                found[name] |= {f"{base}.{a.name}" for a in node.names} | {base}
    return found


def floor(module: str) -> int:
    parts = module.split(".")
    folder = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FLOORS) else ""
    return FLOORS.index(folder) if folder in FLOORS else FLOORS.index("")


def test_every_folder_is_a_known_floor():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(FLOORS)


def test_imports_run_downward_only():
    upward = [
        f"{module} -> {target}"
        for module, targets in imports().items()
        for target in targets
        if target.startswith("bulk.") and floor(target) > floor(module)
    ]
    assert upward == []


def test_no_two_modules_import_each_other():
    found = imports()
    circles = [
        (a, b) for a, targets in found.items() for b in targets if a < b and a in found.get(b, ())
    ]
    assert circles == []


def test_docstrings_and_the_readme_number_the_steps_alike():
    import re

    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme[readme.index("## How the code is laid out") :]
    for init in sorted(PACKAGE.glob("_*/__init__.py")):
        step = re.match(r'"""Step (\d+)', init.read_text())
        if step is None:
            continue  # _shared: no step of its own
        number = step.group(1)
        assert re.search(rf"^{number}\. `{init.parent.name}/`", layout, re.M), init.parent.name
        for module in init.parent.glob("*.py"):
            said = re.match(r'"""Step (\d+)', module.read_text())
            assert said is None or said.group(1) == number, module.name


def test_one_name_one_thing():
    """No two modules define a class, a function or a type alias of the same name."""
    where: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = node.name
                if name.startswith("__"):
                    continue  # a module's __getattr__ and __dir__: Python's protocol, one meaning
            elif isinstance(node, ast.AnnAssign | ast.Assign) and _alias(node):
                name = _alias(node)
            else:
                continue
            where.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
    assert {name: places for name, places in where.items() if len(places) > 1} == {}
    from bulk import emulator

    assert bulk.Emulator is emulator.Emulator  # the server's state is emulator.Server


def _alias(node: ast.AnnAssign | ast.Assign) -> str:
    """The name a type alias (``Manifest = str | ...``) gives, or ""."""
    target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
    name = target.id if isinstance(target, ast.Name) else ""
    return name if name[:1].isupper() and not name.isupper() else ""


def test_no_code_for_tests_only():
    """Every class and function of bulk/ is used by bulk/ or exported by its face."""
    trees = [ast.parse(path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))]
    used: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.Attribute):
                used.add(node.attr)
    from bulk import emulator

    faces = {*bulk.__all__, *emulator.__all__}
    unused = [
        node.name
        for tree in trees
        for node in tree.body
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name not in used | faces
        and not node.name.startswith("__")
    ]
    assert unused == []
