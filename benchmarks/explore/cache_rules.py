"""Choice rules and ensembles evaluated on the member score cache (member_cache.py) without refitting.

Ranks within the test split stand in for auto's ranks against the training scores. "shipped" is the ensemble the
auto of the cache run chose; "if+2" is the rule shipped since (Isolation Forest at its defaults plus the best two
candidates of other families by posterior).

    python benchmarks/explore/cache_rules.py /tmp/cache
"""
import json, numpy as np, pandas as pd, glob, os
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
import sys
C = sys.argv[1] if len(sys.argv) > 1 else "/tmp/cache"
r=pd.read_json(f"{C}/records.jsonl",lines=True)
IF="iforest-691ea21c"
def auc(y,s): return roc_auc_score(y,np.nan_to_num(s,nan=0,posinf=1e300,neginf=-1e300))
def ens(sc,ids,w=None):
    R=[rankdata(np.nan_to_num(sc[i],nan=0,posinf=1e300,neginf=-1e300))/len(sc[i]) for i in ids]
    w=np.ones(len(R)) if w is None else np.asarray(w)
    return np.average(R,axis=0,weights=w)
def hedge(c, size, key="post"):
    c=c.sort_values(key,ascending=False); out=[]
    for _,x in c.iterrows():
        if len(out)==size: break
        if x.family not in [o.family for o in out]: out.append(x)
    return [o.config_id for o in out]
res=[]
for name,g in r.groupby("dataset",sort=False):
    f=f"{C}/{name}.npz"
    if not os.path.exists(f): continue
    z=np.load(f); sc={k:z[k] for k in z.files}; y=sc.pop("y_test")
    c=g[g.candidate & g.config_id.isin(sc)].copy()
    c["syn"]=c.syn.astype(float); c["post"]=c.prior+0.5*(c.syn-c.syn.mean())
    top=c.sort_values("rank").head(6)  # ~ auto's pool (5 + hedge)
    pool=c[c.config_id.isin(list(c.sort_values("rank").head(5).config_id)+[IF])]
    row={"dataset":name,"n":g.n.iloc[0],"iforest":auc(y,sc[IF])}
    sh=g.shipped_ensemble.iloc[0]
    row["shipped"]=auc(y,ens(sc,[i for i in sh if i in sc]))
    m=hedge(pool,3); row["hedge3"]=auc(y,ens(sc,m))
    row["hedge3+if"]=auc(y,ens(sc,m+([IF] if IF not in m else [])))
    m2=hedge(pool[pool.config_id!=IF],2); row["if+2"]=auc(y,ens(sc,[IF]+m2))
    row["if_w.5+2"]=auc(y,ens(sc,[IF]+m2,[2,1,1]))
    row["best_post"]=auc(y,sc[pool.sort_values("post",ascending=False).config_id.iloc[0]])
    row["fixed"]=auc(y,ens(sc,[i for i in ["knn-64d0fbe7","autoencoder-7c19939c","copod-e2c395f4"] if i in sc]))
    row["fixed+if"]=auc(y,ens(sc,[i for i in ["knn-64d0fbe7","autoencoder-7c19939c","copod-e2c395f4",IF] if i in sc]))
    row["oracle_pool"]=max(auc(y,sc[i]) for i in pool.config_id)
    res.append(row)
d=pd.DataFrame(res).set_index("dataset")
print(d.round(3).to_string())
for col in d.columns[2:]:
    diff=d[col]-d.iforest
    print(f"{col:12s} mean {d[col].mean():.4f} vs if {diff.mean():+.4f} worst {diff.min():+.3f} n<-.05 {(diff<-0.05).sum()}")
print("iforest", d.iforest.mean(), len(d))
