"""Does the selector pick better configurations than the global best, on datasets it has never seen?

Leave-one-dataset-out (LODO) over the knowledge base: for each dataset, the selector is trained on the others
(their results and meta-features; datasets from the same source data are held out together, see
``metaad.meta.lodo.DUPLICATE_GROUPS``), picks a configuration from the held-out dataset's meta-features, and
scores the held-out dataset's recorded test AUROC / AP for it (the mean over the knowledge base's seeds).
Compared with the global best, Isolation Forest at defaults, a random configuration (its expectation), PyOD's
ADEngine (offline rule routing) and the per-dataset oracles: in hindsight, and chosen on the other seeds of the
dataset (``metaad.meta.lodo.held_out_seed_oracle``, when the knowledge base has several seeds).

With labels (simulated): for each held-out dataset and each seed of the knowledge base, its protocol is
replayed (the same ``max_rows`` stratified subsample and that seed's 70/30 split); ``k`` anomaly labels of the
*training* part are revealed (seeded draw; all of them when fewer exist), the selector's top candidates are
fitted on the training part without labels, re-ranked by the AUROC of their training scores on the revealed
anomalies blended with the prediction, and the chosen configuration is scored with that seed's recorded test
AUROC / AP; the seeds are averaged per dataset.

Usage::

    python benchmarks/bench_selection.py --write-features          # selection_features.csv of the datasets
    python benchmarks/bench_selection.py --ensemble                 # LODO, oracles, labels, ensembles, timing -> results/selection*
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

log = logging.getLogger("bench_selection")
RESULTS = Path(__file__).parent / "results"

#: The selector variants compared by LODO: name -> Selector settings.
VARIANTS: dict[str, dict] = {
    "global": {"model": "global"},
    "knn3": {"model": "knn", "n_neighbors": 3},
    "knn5": {"model": "knn", "n_neighbors": 5},
    "knn10": {"model": "knn", "n_neighbors": 10},
    "knn5-shrink0.5": {"model": "knn", "n_neighbors": 5, "shrinkage": 0.5},
    "knn10-shrink0.5": {"model": "knn", "n_neighbors": 10, "shrinkage": 0.5},
    "mf": {"model": "mf", "n_factors": 5},
    "mf-shrink0.5": {"model": "mf", "n_factors": 5, "shrinkage": 0.5},
    "knn5-rank3": {"model": "knn", "n_neighbors": 5, "denoise_rank": 3},
    "knn5-rank3-shrink0.5": {"model": "knn", "n_neighbors": 5, "denoise_rank": 3, "shrinkage": 0.5},
    "knn10-rank3": {"model": "knn", "n_neighbors": 10, "denoise_rank": 3},
    "knn5-share0.25": {"model": "knn", "n_neighbors": 5, "candidate_share": 0.25},
    "knn5-shrink0.5-share0.25": {"model": "knn", "n_neighbors": 5, "shrinkage": 0.5, "candidate_share": 0.25},
    "knn10-share0.25": {"model": "knn", "n_neighbors": 10, "candidate_share": 0.25},
    "mf-share0.25": {"model": "mf", "n_factors": 5, "candidate_share": 0.25},
    "lgbm-share0.25": {"model": "lgbm", "candidate_share": 0.25},
    "lgbm": {"model": "lgbm"},
    "lgbm-shrink0.5": {"model": "lgbm", "shrinkage": 0.5},
}
#: The AutoDetector defaults with labels: 20 candidates, at most 2 per family, prior strength 20.
LABEL_SETTINGS = {"pool": "diverse20", "prior_strength": 20.0}
FEATURE_SETS = ("all", "landmarks-only", "base-only")


def load_data(args: argparse.Namespace):
    from metaad.meta.selector import SelectionData
    from metaad.meta.user_knowledge import (
        SHIPPED_FEATURES,
        load_selection_data,
        read_features,
    )

    if args.results:  # interim: straight from a results file
        from metaad.engine.benchmark import load_results
        from metaad.meta.user_knowledge import _matrices

        auroc, ap, configs = _matrices(load_results(args.results))
        complete = auroc.notna().mean(axis=1) > 0.9
        auroc, ap = auroc[complete], ap[complete]
        return SelectionData(auroc, read_features(SHIPPED_FEATURES), configs, ap)
    return load_selection_data(args.knowledge, include_user=False)


def with_features(data, which: str):
    from metaad.meta.selector import SelectionData

    cols = list(data.features.columns)
    keep = {"all": cols, "landmarks-only": [c for c in cols if not c.startswith("base.")],
            "base-only": [c for c in cols if c.startswith("base.")]}[which]
    return SelectionData(data.performance, data.features[keep], data.configurations, data.average_precision)


def adengine_baseline(data, paths: dict[str, str]) -> pd.DataFrame:
    """PyOD's ADEngine (rule routing, no LLM): its first detector, at our default configuration of that family."""
    from pyod.utils.ad_engine import ADEngine

    from metaad.engine.benchmark import load_dataset
    from metaad.meta.lodo import default_config_id

    names = {"IForest": "iforest", "ECOD": "ecod", "COPOD": "copod", "HBOS": "hbos", "KNN": "knn", "LOF": "lof",
             "OCSVM": "ocsvm", "PCA": "pca", "LODA": "loda", "AutoEncoder": "autoencoder", "VAE": "vae",
             "DeepSVDD": "deep_svdd"}
    engine = ADEngine(random_state=0)
    rows = []
    for name in data.datasets:
        X, _ = load_dataset(paths[name])
        plan = engine.plan_detection(engine.profile_data(X))
        family = names.get(plan["detector_name"])
        config = default_config_id(data.configurations, family) if family else None
        perf, ap = data.performance.loc[name], data.average_precision.loc[name]
        ok = config is not None and np.isfinite(perf.get(config, np.nan))
        rows.append({"dataset": name, "adengine": plan["detector_name"], "adengine_config": config,
                     "adengine_auroc": float(perf[config]) if ok else float(perf.mean()),
                     "adengine_ap": float(ap[config]) if ok else float(ap.mean())})
    return pd.DataFrame(rows)


def simulate_labels(data, settings: dict, paths: dict[str, str], ks=(5, 20),
                    prior_strengths=(0.0, 5.0, 20.0), pools=("top5", "diverse5", "top20", "diverse20", "top40"),
                    max_rows: int = 500, per_seed: dict | None = None) -> pd.DataFrame:
    """LODO with k revealed anomaly labels (see the module docstring); one row per dataset x seed x k x setting.

    ``per_seed`` maps each seed of the knowledge base to a SelectionData of that seed's results alone: the
    protocol is then replayed for every seed (that seed's split and ``random_state``) and each choice is scored
    with that seed's test AUROC/AP. Without it, seed 0 and ``data`` itself.
    """
    from metaad.meta.lodo import default_config_id

    defaults = default_config_id(data.configurations, "iforest")
    per_seed = per_seed or {0: data}
    rows = []
    for name, train, ranking, X, y in held_out_rankings(data, settings, paths, max_rows):
        for seed, seed_data in per_seed.items():
            rows.extend(_labels_one_split(name, seed, seed_data, train, ranking, X, y, ks, prior_strengths, pools,
                                          defaults))
        log.info("labels: %s done", name)
    return pd.DataFrame(rows)


def held_out_rankings(data, settings: dict, paths: dict[str, str], max_rows: int):
    """For each dataset: ``(name, train, ranking, X, y)``: the selector's ranking when it is trained without the
    dataset and its duplicate group (``train``), and the dataset's rows under the knowledge-base protocol."""
    from metaad.engine.benchmark import load_dataset
    from metaad.meta.lodo import DUPLICATE_GROUPS
    from metaad.meta.selector import Selector

    for name in data.datasets:
        group = DUPLICATE_GROUPS.get(name, name)
        train = data.drop([d for d in data.datasets if DUPLICATE_GROUPS.get(d, d) == group])
        ranking = Selector(**settings).fit(train).rank(data.features.loc[name].to_dict())
        X, y = load_dataset(paths[name], max_rows)
        yield name, train, ranking, X, y


def _labels_one_split(name, seed, seed_data, train, ranking, X, y, ks, prior_strengths, pools, defaults) -> list[dict]:
    """The label simulation on one held-out dataset and one seed's split (see :func:`simulate_labels`)."""
    from metaad.engine.benchmark import protocol_split
    from metaad.meta.labels_evidence import blend_with_evidence, label_evidence
    from metaad.meta.lodo import score_choices
    from metaad.meta.zoo import Configuration

    data = seed_data
    rows = []
    X_train, _, y_train, _ = protocol_split(X, y, seed)
    anomalies = np.flatnonzero(y_train == 1)
    rng = np.random.RandomState(sum(map(ord, name)) + 1000 * seed)  # seeded by the dataset name and the seed
    order = rng.permutation(anomalies)
    cache: dict[str, np.ndarray | None] = {}

    def scores_of(config_id: str, cache=cache, X_train=X_train, name=name):
        if config_id not in cache:
            row = data.configurations.loc[config_id]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    det = Configuration.from_json(row["family"], row["params_json"]).make_detector(random_state=seed)
                    cache[config_id] = det.fit(X_train).decision_scores_
            except Exception as exc:  # noqa: BLE001  (a failing candidate gets no evidence)
                log.info("%s on %s failed: %s", config_id, name, exc)
                cache[config_id] = None
        return cache[config_id]

    for pool_kind in pools:
        pool = _pool(ranking, int(pool_kind.lstrip("topdivers")), pool_kind.rstrip("0123456789"))
        for k in ks:
            revealed = order[:k]
            known = np.zeros(len(y_train), dtype=int)
            known[revealed] = 1
            observed = {}
            for c in pool["config_id"]:
                s = scores_of(c)
                observed[c] = label_evidence(s, known)["auroc"] if s is not None else float("nan")
            predicted = dict(zip(pool["config_id"], pool["predicted_auroc"]))
            for strength in prior_strengths:
                post = blend_with_evidence(predicted, observed, n_labels=len(revealed), prior_strength=strength)
                ids = list(pool["config_id"])
                usable = [c for c in ids if np.isfinite(observed[c])] or ids
                chosen = max(usable, key=lambda c: (post[c], -ids.index(c)))
                row = score_choices(data, name, chosen, train, defaults)
                row.update(k=k, seed=seed, revealed=len(revealed), prior_strength=strength, pool=pool_kind,
                           pool_oracle_auroc=float(data.performance.loc[name, list(pool["config_id"])].max()))
                rows.append(row)
    return rows


def seed_tables(data, trials_path: str | Path) -> tuple[pd.DataFrame | None, dict | None]:
    """The raw trials behind ``data`` and one SelectionData per seed (None, None for a one-seed knowledge base)."""
    from metaad.meta.knowledge import performance_matrices
    from metaad.meta.selector import SelectionData

    if not Path(trials_path).exists():
        return None, None
    trials = pd.read_parquet(trials_path)
    trials = trials[trials["dataset"].isin(data.datasets)]
    seeds = sorted(int(s) for s in trials["seed"].unique())
    if len(seeds) < 2:
        return None, None
    per_seed = {}
    for seed in seeds:
        auroc, ap = performance_matrices(trials[trials["seed"] == seed])
        auroc = auroc.reindex(index=data.performance.index, columns=data.performance.columns)
        ap = ap.reindex(index=data.performance.index, columns=data.performance.columns)
        per_seed[seed] = SelectionData(auroc, data.features, data.configurations, ap)
    return trials, per_seed


def average_over_seeds(rows: pd.DataFrame, data) -> pd.DataFrame:
    """Per-seed label-simulation rows averaged per dataset and setting; the oracle is the hindsight one of the mean."""
    keys = ["dataset", "k", "prior_strength", "pool"]
    numeric = [c for c in rows.columns if c.endswith(("_auroc", "_ap")) or c == "revealed"]
    out = rows.groupby(keys, as_index=False)[numeric].mean()
    out["oracle_auroc"] = data.performance.max(axis=1).reindex(out["dataset"]).to_numpy()
    out["oracle_ap"] = data.average_precision.max(axis=1).reindex(out["dataset"]).to_numpy()
    return out


def noise_table(table: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: the LODO choices' AUROC beside the hindsight, held-out-seed and single-seed oracles."""
    from metaad.meta.lodo import held_out_seed_oracle

    oracles = held_out_seed_oracle(trials).add_suffix("_oracle_auroc").reset_index()
    keep = ["dataset", "selected_auroc", "global_best_auroc", "defaults_auroc", "random_auroc"]
    return table[keep].merge(oracles, on="dataset")


def oracle_summary(noise: pd.DataFrame) -> pd.DataFrame:
    """Mean AUROC of each method and the share of the gap to each oracle that the selected configuration closes."""
    means = noise.drop(columns="dataset").mean()
    gb, sel = means["global_best_auroc"], means["selected_auroc"]
    rows = {}
    for name in ("hindsight", "held_out_seed", "single_seed"):
        oracle = means[f"{name}_oracle_auroc"]
        rows[f"{name} oracle"] = {"oracle_auroc": oracle, "selected_auroc": sel, "global_best_auroc": gb,
                                  "gap_closed": (sel - gb) / (oracle - gb) if oracle > gb else np.nan}
    return pd.DataFrame(rows).T


def ensemble_check(data, settings: dict, paths: dict[str, str], sizes=(1, 3, 5), max_rows: int = 500,
                   per_seed: dict | None = None) -> pd.DataFrame:
    """LODO of AutoDetector's rank-ensemble of the top ``size`` configurations, refitted under the KB protocol.

    One row per dataset x seed x size (``per_seed`` as in :func:`simulate_labels`; default seed 0 and ``data``).
    Size 1 refits the selected configuration itself: its test AUROC must equal that seed's knowledge-base
    value (a check that the protocol is replayed exactly).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    from metaad.engine.benchmark import protocol_split
    from metaad.meta.zoo import Configuration

    per_seed = per_seed or {0: data}
    rows = []
    for name, _, ranking, X, y in held_out_rankings(data, settings, paths, max_rows):
        for seed, seed_data in per_seed.items():
            X_train, X_test, _, y_test = protocol_split(X, y, seed)
            members = []
            for row in ranking.head(max(sizes)).itertuples():
                try:
                    det = Configuration.from_json(row.family, row.params_json).make_detector(random_state=seed)
                    det.fit(X_train)
                    members.append((np.sort(det.decision_scores_), det.decision_function(X_test)))
                except Exception as exc:  # noqa: BLE001  (a failing member is left out)
                    log.info("ensemble: %s on %s failed: %s", row.config_id, name, exc)
            for size in sizes:
                use = members[:size]
                ranks = np.mean([np.searchsorted(ref, s, side="right") / len(ref) for ref, s in use], axis=0)
                score = ranks + 1e-6 * (use[0][1] - use[0][0][0]) / (np.ptp(use[0][0]) or 1.0)
                rows.append({"dataset": name, "seed": seed, "size": size, "auroc": roc_auc_score(y_test, score),
                             "ap": average_precision_score(y_test, score),
                             "kb_auroc_of_first": float(seed_data.performance.loc[name, ranking["config_id"].iloc[0]])})
    return pd.DataFrame(rows)


def _pool(ranking: pd.DataFrame, n: int, kind: str) -> pd.DataFrame:
    """``top``: the first n; ``diverse``: the first n with at most 2 per family (what AutoDetector fits)."""
    from metaad.meta.auto import candidate_pool

    return candidate_pool(ranking, n, 0 if kind == "top" else 2)


def timing(data, repeats: int = 5) -> dict[str, float]:
    """Seconds for meta-features + ranking the whole zoo on a 100,000 x 100 table (the selector trained once)."""
    from metaad.meta.landmarks import selection_features
    from metaad.meta.recommend import INCLUDE_BASE_FEATURES, SELECTOR_SETTINGS
    from metaad.meta.selector import Selector

    X = np.random.RandomState(0).normal(size=(100_000, 100))
    if not INCLUDE_BASE_FEATURES:
        data = with_features(data, "landmarks-only")
    start = time.perf_counter()
    selector = Selector(**SELECTOR_SETTINGS).fit(data)
    train_seconds = time.perf_counter() - start
    selection_features(X[:1000], include_base=INCLUDE_BASE_FEATURES)  # warm-up: first-call imports and JIT compilation are not per-selection costs
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ranking = selector.rank(selection_features(X, include_base=INCLUDE_BASE_FEATURES))
        times.append(time.perf_counter() - start)
    return {"train_selector_s": round(train_seconds, 3), "select_median_s": round(float(np.median(times)), 3),
            "select_max_s": round(float(np.max(times)), 3), "n_configurations": len(ranking)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabular"))
    parser.add_argument("--knowledge", default=None, help="knowledge base folder (default: the shipped one)")
    parser.add_argument("--results", default=None, help="interim: build from a results file instead")
    parser.add_argument("--trials", default=None,
                        help="the knowledge base's raw trials, for the per-seed tables (default: its trials.parquet)")
    parser.add_argument("--write-features", action="store_true")
    parser.add_argument("--skip-labels", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true", help="evaluate the shipped selector settings only")
    parser.add_argument("--ensemble", action="store_true", help="also refit rank-ensembles of the top 1/3/5 (LODO)")
    parser.add_argument("--out", default=str(RESULTS / "selection"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    warnings.simplefilter("ignore")
    from metaad.engine.benchmark import discover_datasets
    from metaad.meta.lodo import DUPLICATE_GROUPS, leave_one_dataset_out, summarize
    from metaad.meta.selector import Selector

    paths = discover_datasets([args.data])
    if args.write_features:
        from metaad.meta.user_knowledge import (
            SHIPPED_FEATURES,
            dataset_features,
            write_features,
        )

        write_features(dataset_features(paths), SHIPPED_FEATURES)
        log.info("wrote %s", SHIPPED_FEATURES)
        return 0
    data = load_data(args)
    log.info("knowledge: %d datasets x %d configurations, %d meta-features", *data.performance.shape, data.features.shape[1])
    out = Path(args.out)
    sweep = []
    tables = {}
    for feature_set in () if args.skip_sweep else FEATURE_SETS:
        subset = with_features(data, feature_set)
        for name, settings in VARIANTS.items():
            if feature_set == "base-only" and not name.startswith(("knn5", "mf", "lgbm")):
                continue
            start = time.perf_counter()
            table = leave_one_dataset_out(subset, lambda s=settings: Selector(**s), groups=DUPLICATE_GROUPS)
            summary = summarize(table)
            tables[(feature_set, name)] = table
            sel = summary.loc["selected"]
            sweep.append({"features": feature_set, "variant": name, "auroc": sel["auroc"], "ap": sel["ap"],
                          "gap_closed_auroc": sel["gap_closed_auroc"], "gap_closed_ap": sel["gap_closed_ap"],
                          "worst_vs_global_best": sel["worst_vs_global_best"],
                          "n_worse_than_gb_by_0.05": int(((table["selected_auroc"] - table["global_best_auroc"]) < -0.05).sum()),
                          "seconds": time.perf_counter() - start})
            log.info("%s / %s: %s", feature_set, name, {k: round(v, 4) if isinstance(v, float) else v for k, v in sweep[-1].items()})
    if sweep:
        pd.DataFrame(sweep).to_csv(f"{out}_sweep.csv", index=False)
    from metaad.meta.recommend import INCLUDE_BASE_FEATURES, SELECTOR_SETTINGS

    feature_set = "all" if INCLUDE_BASE_FEATURES else "landmarks-only"
    shipped = with_features(data, feature_set)
    chosen_name = next((n for n, s in VARIANTS.items() if s == SELECTOR_SETTINGS), "shipped")
    if (feature_set, chosen_name) not in tables:
        tables[(feature_set, chosen_name)] = leave_one_dataset_out(shipped, lambda: Selector(**SELECTOR_SETTINGS),
                                                                   groups=DUPLICATE_GROUPS)
    table = tables[(feature_set, chosen_name)].merge(adengine_baseline(data, paths), on="dataset")
    table.to_csv(f"{out}_lodo.csv", index=False)
    summary = summarize(table, ("selected", "global_best", "defaults", "adengine", "random", "oracle"))
    summary.to_csv(f"{out}_summary.csv")
    print(f"== LODO, selector {chosen_name} ({SELECTOR_SETTINGS}), features {feature_set} ==")
    print(summary.round(4).to_string())
    from metaad.meta.knowledge import default_knowledge_path

    trials_path = args.trials or args.results or Path(args.knowledge or default_knowledge_path()) / "trials.parquet"
    trials, per_seed = seed_tables(data, trials_path)
    if trials is not None:
        noise = noise_table(table, trials)
        noise.to_csv(f"{out}_oracles.csv", index=False)
        print(f"== how much of the oracle is split noise ({len(per_seed)} seeds) ==")
        print(oracle_summary(noise).round(4).to_string())
    if not args.skip_labels:
        settings = SELECTOR_SETTINGS
        labels = simulate_labels(shipped, settings, paths, per_seed=per_seed)
        labels.to_csv(f"{out}_labels.csv", index=False)
        if per_seed:
            labels = average_over_seeds(labels, shipped)
        chosen = labels[(labels["pool"] == LABEL_SETTINGS["pool"]) & (labels["prior_strength"] == LABEL_SETTINGS["prior_strength"])]
        frames = []
        for k, part in chosen.groupby("k"):
            s = summarize(part)
            s.insert(0, "k", k)
            frames.append(s)
            print(f"== labels k={k}, {LABEL_SETTINGS} ==")
            print(s.round(4).to_string())
        pd.concat(frames).to_csv(f"{out}_labels_summary.csv")
        for (k, strength, pool), part in labels.groupby(["k", "prior_strength", "pool"]):
            s = summarize(part).loc["selected"]
            print(f"labels k={k} prior_strength={strength} pool={pool}: auroc {s['auroc']:.4f} ap {s['ap']:.4f} "
                  f"gap_closed {s['gap_closed_auroc']:.3f} worst {s['worst_vs_global_best']:.3f} "
                  f"mean revealed {part['revealed'].mean():.1f} pool oracle {part['pool_oracle_auroc'].mean():.4f}")
    if args.ensemble:
        ens = ensemble_check(shipped, SELECTOR_SETTINGS, paths, per_seed=per_seed)
        ens.to_csv(f"{out}_ensemble.csv", index=False)
        print("== rank-ensemble of the top k, refitted (LODO) ==")
        print(ens.groupby("size")[["auroc", "ap"]].mean().round(4).to_string())
        first = ens[ens["size"] == 1]
        print("size 1 reproduces the knowledge base on", int(np.isclose(first["auroc"], first["kb_auroc_of_first"], atol=1e-9).sum()),
              "of", len(first), "dataset x seed splits")
    print("timing", json.dumps(timing(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
