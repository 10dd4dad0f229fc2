"""The rules of the package's shape that import-linter's contracts (``pyproject.toml``) do not check.

- no import cycle among gpudriz's modules (import-linter checks layers, not cycles in general);
- no import inside a function, except of an optional dependency (:data:`OPTIONAL`): such
  imports hide cycles and layer breaches from a reader, and from every check but this one;
- no private (underscore) name of one gpudriz module used by another: make it public in the
  module it belongs to instead;
- no module of ``gpudriz/`` over :data:`MAX_LINES` lines.

Each test lists every offender, so one run says everything that is left to fix.  The tests read
the package that is imported (the installed one in CI, the checkout on an editable install), with
``kernels/`` and ``fallback/`` in it as ``gpudriz.kernels`` and ``gpudriz.fallback``.
"""

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Optional dependencies: importing them inside the function that needs them keeps the package
#: importable without them.  Every other import is at module level.
OPTIONAL = frozenset({"cupy", "ipywidgets", "IPython", "dask", "distributed"})

#: The most lines a module of ``gpudriz/`` may have.
MAX_LINES = 500

#: Packages installed inside gpudriz from folders of their own (pyproject's package-dir).
INNER = ("gpudriz.kernels", "gpudriz.fallback")


def _folder(package):
    spec = importlib.util.find_spec(package)
    return Path(next(iter(spec.submodule_search_locations)))


def _modules_in(package):
    """{module name: path} of the ``.py`` files of ``package``'s folder and its subfolders."""
    folder = _folder(package)
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package, *parts])] = path
    return out


def _all_modules():
    """{module name: path} of every module of gpudriz as installed, kernels and fallback included."""
    # In an installed copy kernels/ and fallback/ are folders inside gpudriz/; on an editable
    # install they are mapped there at import time only.  Either way each module is listed once.
    out = {}
    for package in ("gpudriz", *INNER):
        for name, path in _modules_in(package).items():
            out.setdefault(name, path)
    return out


def _own_modules():
    """{module name: path} of the modules of the ``gpudriz/`` folder itself (not kernels/, fallback/)."""
    return {n: p for n, p in _all_modules().items() if not n.startswith(tuple(f"{i}." for i in INNER))
            and n not in INNER}  # fmt: skip


def _where(name, path, node):
    return f"{name} ({path.name}:{node.lineno})"


def _resolve(module_name, path, node):
    """Absolute name of the module an ``ImportFrom`` node imports from."""
    if not node.level:
        return node.module
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


# --------------------------------------------------------------------------- cycles

_GRAPH_SCRIPT = """
import json, sys
import grimp
import gpudriz
assert gpudriz.__file__.startswith(sys.argv[1]), gpudriz.__file__
graph = grimp.build_graph("gpudriz", cache_dir=None)
edges = []
for importer in sorted(graph.modules):
    for imported in sorted(graph.find_modules_directly_imported_by(importer)):
        lines = sorted(d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported))
        edges.append([importer, imported, lines])
print(json.dumps(edges))
"""


@pytest.fixture(scope="module")
def import_graph(tmp_path_factory):
    """``{importer: {imported: [line numbers]}}`` among gpudriz's modules, as grimp finds them.

    grimp reads the package's folder, where an editable install has no kernels/ and fallback/,
    so the package is first copied into its installed layout, and the graph is built by a fresh
    interpreter that imports the copy.
    """
    root = tmp_path_factory.mktemp("layout")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(_folder("gpudriz"), root / "gpudriz", ignore=ignore, dirs_exist_ok=True)
    for inner in INNER:
        shutil.copytree(_folder(inner), root / "gpudriz" / inner.split(".")[1], ignore=ignore, dirs_exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _GRAPH_SCRIPT, str(root)], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    graph = {}
    for importer, imported, lines in json.loads(proc.stdout):
        graph.setdefault(importer, {})[imported] = lines
    assert set(INNER) <= set(graph) | {m for deps in graph.values() for m in deps} | set(_all_modules())
    return graph


def _strongly_connected(graph):
    """Tarjan's strongly connected components of ``graph`` (iterative: no recursion limit)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    nodes = sorted(set(graph) | {m for deps in graph.values() for m in deps})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(sorted(component))
    return out


def _shortest_cycle(graph, component):
    """One shortest cycle through the first module of ``component``, staying inside it."""
    start, inside = component[0], set(component)
    previous, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph.get(node, {})):
                if child == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child in inside and child not in previous:
                    previous[child] = node
                    nxt.append(child)
        frontier = nxt
    return [start, start]


def test_no_import_cycles(import_graph):
    assert "gpudriz.backend" in import_graph, "the graph holds none of gpudriz's modules"
    cycles = []
    for component in _strongly_connected(import_graph):
        if len(component) > 1 or component[0] in import_graph.get(component[0], {}):
            path = _shortest_cycle(import_graph, component)
            steps = " -> ".join(f"{a} (line {import_graph[a][b][0]})" for a, b in zip(path, path[1:]))
            cycles.append(f"{len(component)} modules in a cycle: {', '.join(component)}\n    e.g. {steps} -> {path[-1]}")
    assert not cycles, "import cycles among gpudriz's modules:\n" + "\n".join(cycles)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b": [1]}, "b": {"c": [1]}, "c": {"a": [1], "d": [1]}, "d": {}, "e": {"e": [3]}}
    components = _strongly_connected(graph)
    assert ["a", "b", "c"] in components and ["d"] in components and ["e"] in components
    assert _shortest_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


# --------------------------------------------------------------------------- imports


def _function_imports(tree):
    """``(node, what)`` of every import executed inside a function body (``what``: module (names))."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if in_function and isinstance(child, ast.Import):
                found.extend((child, alias.name) for alias in child.names)
            elif in_function and isinstance(child, ast.ImportFrom):
                source = "." * child.level + (child.module or "")
                found.append((child, f"{source} ({', '.join(a.name for a in child.names)})"))
            elif in_function and isinstance(child, ast.Call):
                # importlib.import_module("x") / __import__("x") with a literal name hide an import too.
                f = child.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name in ("import_module", "__import__") and child.args and isinstance(child.args[0], ast.Constant):
                    found.append((child, str(child.args[0].value)))
            visit(child, inside)

    visit(tree, False)
    return found


def test_imports_inside_functions_are_of_optional_dependencies_only():
    offenders = []
    for name, path in _all_modules().items():
        for node, module in _function_imports(ast.parse(path.read_text(), str(path))):
            if module.startswith(".") or module.split(".")[0].split(" ")[0] not in OPTIONAL:
                offenders.append(f"{_where(name, path, node)}: import of {module} inside a function")
    assert not offenders, (
        "imports inside functions (only cupy, ipywidgets, IPython, dask and distributed may be; "
        "move the others to the top of the module):\n" + "\n".join(offenders)
    )


def _private_uses(name, path, tree, modules):
    """Where module ``name`` uses a private name of another gpudriz module."""
    found = []
    # Local names bound to gpudriz modules: ``import gpudriz.x as m``, ``from gpudriz import x``.
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gpudriz":
                    if any(_is_private(p) for p in alias.name.split(".")):
                        found.append(f"{_where(name, path, node)}: imports private module {alias.name}")
                    if alias.asname:
                        aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, path, node)
            if not source or source.split(".")[0] != "gpudriz":
                continue
            for alias in node.names:
                if _is_private(alias.name) or any(_is_private(p) for p in source.split(".")):
                    found.append(f"{_where(name, path, node)}: imports {alias.name} from {source}")
                if f"{source}.{alias.name}" in modules:
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _is_private(node.attr) and isinstance(node.value, ast.Name)
                and aliases.get(node.value.id, name) != name):  # fmt: skip
            found.append(f"{_where(name, path, node)}: uses {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_private_name_is_used_outside_its_module():
    modules = _all_modules()
    offenders = []
    for name, path in modules.items():
        offenders += _private_uses(name, path, ast.parse(path.read_text(), str(path)), modules)
    assert not offenders, (
        "private names used outside their module (make them public in the module they belong to):\n"
        + "\n".join(sorted(set(offenders)))
    )


def test_the_import_checkers_see_what_they_look_for():
    code = (
        "import numpy\n"
        "from gpudriz.pixmap import _scale, calc_pixmap\n"
        "import gpudriz.backend.cuda.ops as ops\n"
        "from gpudriz.backend import host\n"
        "from . import _private_module\n"
        "ops._as_i32(1), host._rule, host.public, self._own\n"
        "def f():\n"
        "    import numpy\n"
        "    import cupy\n"
        "    from gpudriz.backend import arrays\n"
    )
    modules = {"gpudriz.demo.x": None, "gpudriz.backend.host": None, "gpudriz.backend.cuda.ops": None}
    found = _private_uses("gpudriz.demo.x", Path("x.py"), ast.parse(code), modules)
    assert sorted(f.split(": ", 1)[1] for f in found) == [
        "imports _private_module from gpudriz.demo",
        "imports _scale from gpudriz.pixmap",
        "uses gpudriz.backend.cuda.ops._as_i32",
        "uses gpudriz.backend.host._rule",
    ]
    assert not _is_private("__version__")
    assert [m for _, m in _function_imports(ast.parse(code))] == ["numpy", "cupy", "gpudriz.backend (arrays)"]
    assert not _function_imports(ast.parse("import numpy\ntry:\n    import cupy\nexcept ImportError:\n    pass\n"))


# --------------------------------------------------------------------------- size


def test_no_module_of_gpudriz_is_over_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _own_modules().items()}
    assert len(sizes) > 20, sizes
    offenders = [f"{name}: {n} lines" for name, n in sorted(sizes.items(), key=lambda kv: -kv[1]) if n > MAX_LINES]
    assert not offenders, f"modules of gpudriz/ over {MAX_LINES} lines (split them along their jobs):\n" + "\n".join(
        offenders
    )
