"""`knowledge add` and the benchmark's results store killed at each of their write steps (issue 12).

Same harness as tests/test_io.py: the job runs in a forked child killed (os._exit) just before its K-th
file-system write, for every K; afterwards the old or the new complete result must be there.
"""

from __future__ import annotations

import shutil
import warnings


from metaad.benchmark.store import ResultStore, load_results
from metaad.meta.knowledge import add_knowledge, load_merged_knowledge
from tests.meta._planted import planted_results
from tests.test_io import _KILLED, _run_killed


def test_knowledge_add_killed_at_every_write_step_leaves_the_old_or_the_new_knowledge(tmp_path) -> None:
    results, data_dir = planted_results(tmp_path / "src", n_datasets=4, prefix="mine")
    root = tmp_path / "work"
    root.mkdir()
    user = root / "knowledge"
    add_knowledge(results[results["dataset"].isin(["mine0", "mine1"])], [data_dir], user_dir=user)
    pristine = tmp_path / "pristine"
    shutil.copytree(user, pristine)

    def add_all() -> None:
        add_knowledge(results, [data_dir], user_dir=user)

    def user_tasks() -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a skipped (unreadable) user folder would warn: not old, not new
            return len(load_merged_knowledge(user_dir=user).tasks)

    shipped = user_tasks() - 2
    n_steps = _run_killed(add_all, root, 0)
    assert n_steps >= 5
    seen = []
    for k in range(1, n_steps + 1):
        shutil.rmtree(root)
        root.mkdir()
        shutil.copytree(pristine, user)
        assert _run_killed(add_all, root, k) == _KILLED
        seen.append(user_tasks() - shipped)
        add_all()  # the next run completes and leaves nothing of the killed one behind
        assert user_tasks() - shipped == 4
        assert sorted(p.name for p in root.iterdir()) == ["knowledge"], f"killed at write step {k}"
    assert set(seen) <= {2, 4} and seen[0] == 2 and seen[-1] == 4, seen


def test_results_store_killed_at_every_write_step_keeps_every_finished_trial(tmp_path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    out = root / "results.parquet"
    rows = [{"dataset": "d", "config_id": f"c{i}", "seed": 0, "n_rows": 100, "status": "ok", "auroc": 0.5 + i / 100}
            for i in range(4)]

    def run() -> None:  # what run_benchmark does with finished trials: append each, then consolidate
        store = ResultStore(out)
        with store.writing():
            for row in rows:
                if (row["dataset"], row["config_id"], 0, 100) not in store.completed_keys():
                    store.append(row)
            store.consolidate()

    n_steps = _run_killed(run, root, 0)
    assert n_steps >= 6
    for k in range(1, n_steps + 1):
        shutil.rmtree(root)
        root.mkdir()
        assert _run_killed(run, root, k) == _KILLED
        if out.exists() or ResultStore(out).journal.exists():
            kept = load_results(out)
            assert list(kept["config_id"]) == [f"c{i}" for i in range(len(kept))], f"killed at step {k}"
            assert kept["auroc"].notna().all()
        run()  # the resumed run completes every trial once
        final = load_results(out)
        assert sorted(final["config_id"]) == ["c0", "c1", "c2", "c3"] and not ResultStore(out).journal.exists()
