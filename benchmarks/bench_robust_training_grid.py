"""Does stronger PGD training make the cardio autoencoder harder to attack? A grid over training epsilon.

Attack: `metaad.evaluation.robust_auroc(det, X_test, y_test, epsilon=0.1, steps=10)` (epsilon in training
standard deviations). Seeds 0 and 1, README protocol split, autoencoder defaults otherwise.

Run::

    nice .venv/bin/python benchmarks/bench_robust_training_grid.py
"""
from pathlib import Path
import numpy as np, metaad, warnings, torch
warnings.simplefilter("ignore"); torch.set_num_threads(1)
from metaad.evaluation import robust_auroc
from sklearn.model_selection import train_test_split
d=np.load(Path(__file__).resolve().parents[2] / 'shared' / 'datasets' / 'tabular' / 'cardio.npz'); X,y=d['X'],d['y'].astype(int).ravel()
configs=[dict(), dict(adversarial="pgd", epsilon=0.1), dict(adversarial="pgd", epsilon=0.3), dict(adversarial="pgd", epsilon=0.5), dict(adversarial="pgd", epsilon=0.3, adversarial_steps=7), dict(adversarial="pgd", epsilon=1.0)]
for cfg in configs:
    res=[]
    for seed in (0,1):
        Xtr,Xte,ytr,yte=train_test_split(X,y,test_size=0.3,stratify=y,random_state=seed)
        det=metaad.make_detector("autoencoder", random_state=seed, **cfg).fit(Xtr)
        r=robust_auroc(det, Xte, yte, epsilon=0.1, steps=10)
        res.append((r["auroc_clean"], r["auroc_attacked"]))
    c,a=np.mean(res,axis=0)
    print(cfg, round(c,4), round(a,4), "lost", round(c-a,4), flush=True)
