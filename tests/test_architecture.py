"""The package structure: no import circle anywhere (function-level imports included), dependencies point
one way (solvers <- instances <- benchmark: the library never imports the data layer or the harness, the
data layer never the harness or the solvers), and no module imports another module's private names."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("solvers", "instances", "benchmark")
ALLOWED = {"solvers": {"solvers"}, "instances": {"instances"}, "benchmark": {"benchmark", "instances", "solvers"}}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path):
    """(imported module, imported names) for every import statement of the module, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module, [a.name for a in node.names]


def _graph():
    graph, private = {name: set() for name in MODULES}, []
    for name, path in MODULES.items():
        for module, names in _imports(name, path):
            targets = [module] + [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
            for target in targets:
                if target in MODULES and target != name:
                    graph[name].add(target)
            if module in MODULES and module != name:
                private += [f"{name} imports {module}.{n}" for n in names if n.startswith("_") and n != "__version__"]
    return graph, private


def test_no_import_cycle():
    graph, _ = _graph()
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_dependencies_point_one_way():
    graph, _ = _graph()
    wrong = [f"{a} imports {b}" for a, targets in graph.items() for b in targets
             if b.split(".")[0] not in ALLOWED[a.split(".")[0]]]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_private_names_across_modules():
    _, private = _graph()
    assert not private, "\n".join(sorted(private))


def test_readme_methods_table_is_the_registry():
    from benchmark.methods_table import README_BEGIN, README_END, readme_block

    text = (ROOT / "README.md").read_text()
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    assert text[start:end] == readme_block(), "README methods table is stale: paste `bench methods --markdown`"


def test_registry_defaults_are_the_solve_functions_defaults():
    """An option's default is written twice, in the registry (what ``bench methods`` shows and validation fills in)
    and as the solve function's keyword default (what a direct call gets): the two must never drift apart."""
    import inspect

    from solvers.registry import SPECS

    drifted = []
    for name, spec in SPECS.items():
        parameters = inspect.signature(spec.solve).parameters
        for option, declared in spec.options.items():
            keyword = parameters.get(option)
            if keyword is not None and keyword.default is not inspect.Parameter.empty and \
                    keyword.default != declared.default:
                drifted.append(f"{name}.{option}: registry {declared.default!r}, signature {keyword.default!r}")
    assert not drifted, drifted
