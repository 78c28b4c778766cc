"""The package's layers import downward only (ARCHITECTURE.md), and nothing imports the top-level package."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "metaad"

#: Each part of the package and its layer: a part may import parts of its own or a lower layer only.
LAYERS: dict[str, int] = {
    "_version": 0, "exceptions": 0, "_io": 0, "device": 0, "_params_json": 0, "_constraints": 0,
    "data": 1,
    "scores": 2,
    "detectors": 3,
    "evaluation": 4,
    "pipeline": 5, "persistence": 5, "_model_schema": 5, "_model_files": 5,
    "benchmark": 6,
    "engine": 7,
    "meta": 8,
    "search": 9, "adapt": 9, "serving": 9, "workflow": 9,
    "cli": 10, "__init__": 10, "__main__": 10,
}


def imports() -> list[tuple[str, str, str]]:
    """(file, importing part, imported part) for every import of another part, lazy ones included."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        src = rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "metaad" else [])
            for name in names:
                if name == "metaad" or name.startswith("metaad."):
                    dst = name.split(".")[1] if "." in name else "metaad"
                    if dst != src:
                        found.append((str(rel), src, dst))
    return found


def test_every_part_has_a_layer() -> None:
    parts = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert parts <= set(LAYERS), f"give these parts a layer in LAYERS and ARCHITECTURE.md: {sorted(parts - set(LAYERS))}"


def test_imports_go_downward_only() -> None:
    upward = [f"{file}: {src} (layer {LAYERS[src]}) imports {dst} (layer {LAYERS.get(dst, '?')})"
              for file, src, dst in imports() if dst != "metaad" and LAYERS[src] < LAYERS.get(dst, 99)]
    assert not upward, "\n".join(upward)


def test_nothing_inside_imports_the_top_level_package() -> None:
    inside = [file for file, src, dst in imports() if dst == "metaad" and src not in ("cli", "__init__", "__main__")]
    assert not inside, inside


def test_the_check_sees_a_planted_upward_import(tmp_path, monkeypatch) -> None:
    planted = PACKAGE / "data" / "_planted_upward_import.py"
    planted.write_text("def f():\n    from metaad.meta import selection\n")
    try:
        assert any(f.endswith("_planted_upward_import.py") and d == "meta" for f, _, d in imports())
    finally:
        planted.unlink()
