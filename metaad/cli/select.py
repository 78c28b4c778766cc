"""``metaad select`` (ranked recommendations for a table) and ``metaad knowledge add`` (extend the knowledge)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable
from rich.text import Text

from metaad.cli._app import app, console, examples


def _knowledge_group() -> typer.Typer:
    """The ``knowledge`` command group of :mod:`metaad.cli.benchmark` if it defines one, else a new one."""
    try:
        from metaad.cli import benchmark

        for name in ("knowledge_app", "knowledge", "knowledge_group"):
            group = getattr(benchmark, name, None)
            if isinstance(group, typer.Typer):
                return group
    except ImportError:
        pass
    group = typer.Typer(help="The knowledge base the selector learns from.", no_args_is_help=True)
    app.add_typer(group, name="knowledge")
    return group


knowledge_group = _knowledge_group()


@app.command(epilog=examples(
    "metaad select payments.csv --top 5",
    "metaad select sensors.parquet --family deep --json",
))
def select(
    input: str = typer.Argument(..., help="A CSV/Parquet/NPZ/.mat file, or a bundled dataset name."),
    top: int = typer.Option(5, "--top", "-k", help="How many recommendations."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="Label column to leave out of the features."),
    family: Optional[list[str]] = typer.Option(None, "--family", "-f", help="Recommend only this family (repeatable)."),
    knowledge_dir: Optional[Path] = typer.Option(None, "--knowledge-dir", help="Your knowledge folder (default ~/.metaad/knowledge)."),
) -> None:
    """Recommend detector configurations for a table, with predicted AUROC and the reason; trains no detector."""
    from metaad.data.preprocessing import TabularPreprocessor
    from metaad.workflow import load_input
    from metaad.meta.recommend import select as run_select

    table = load_input(input, label_col)
    X = TabularPreprocessor(missing="impute").fit_transform(table.frame)
    recs = run_select(X, top=top, knowledge_dir=knowledge_dir, families=family)
    if as_json:
        typer.echo(json.dumps({"input": table.source, "n_rows": int(X.shape[0]), "n_columns": int(X.shape[1]),
                               "recommendations": recs.to_dict(orient="records")}, indent=2))
        return
    view = RichTable("rank", "configuration", "family", "parameters", "predicted AUROC", "reason")
    for r in recs.itertuples():
        view.add_row(str(r.rank), r.config_id, r.family, json.dumps(r.params, sort_keys=True), f"{r.predicted_auroc:.3f}", r.reason)
    console.print(Text.assemble((table.name, "bold"), f": {X.shape[0]} rows x {X.shape[1]} columns"))
    console.print(view)
    best = recs.iloc[0]
    params = " ".join(f"-p {k}={json.dumps(v)}" for k, v in best["params"].items())
    console.print(f"to use the first: metaad detect {input} -d {best['family']} {params}".rstrip())


@knowledge_group.command("add", epilog=examples("metaad knowledge add --results results.parquet --data my_tables/"))
def knowledge_add(
    results: Path = typer.Option(..., "--results", help="Benchmark results (Parquet, as written by the benchmark)."),
    data: list[Path] = typer.Option(..., "--data", help="File or folder holding the datasets named in the results (repeatable)."),
    knowledge_dir: Optional[Path] = typer.Option(None, "--knowledge-dir", help="Your knowledge folder (default ~/.metaad/knowledge)."),
) -> None:
    """Add your own benchmark results to the knowledge the selector learns from (stored in your folder)."""
    from metaad.cli.benchmark import _check_results_file
    from metaad.meta.knowledge import add_knowledge

    _check_results_file(results)
    with console.status("computing meta-features of the added datasets"):
        info = add_knowledge(results, [str(p) for p in data], user_dir=knowledge_dir)
    added, updated = info["added_tasks"], info["updated_tasks"]
    message = f"added {len(added)} task(s)" + (f" ({', '.join(added)})" if added else "")
    if updated:
        message += f", updated {len(updated)} already there ({', '.join(updated)})"
    console.print(f"{message} in {info['folder']}; the selector now learns from {info['n_merged_tasks']} tasks")
