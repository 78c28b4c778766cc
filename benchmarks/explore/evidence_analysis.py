import pandas as pd, numpy as np, json
rows=[json.loads(l) for l in open('benchmarks/results/explore_evidence.jsonl')]
df=pd.DataFrame(rows)
from metaad.meta.knowledge import load_knowledge
kb=load_knowledge('metaad/knowledge'); C=kb.configurations
ifd=[c for c in C.index if C.loc[c,'family']=='iforest' and C.loc[c,'params_json']=='{}'][0]
res={}
for task,g in df.groupby('task'):
    ifv=kb.performance.loc[task,ifd]; syn=g.syn.fillna(g.syn.mean())
    r={'iforest':ifv,'oracle':kb.performance.loc[task].max(),'pool_oracle':g.true.max()}
    r['prior']=g.true.iloc[g.prior.values.argmax()]
    for w in [0.25,0.5,1,2,4,8]:
        post=g.prior+w*(syn-syn.mean()); r[f'w{w}']=g.true.iloc[post.values.argmax()]
    r['syn']=g.true.iloc[syn.values.argmax()]
    # per-type argmax
    for t in ['local','global','dependency','clustered']:
        v=g.syn_types.apply(lambda d: d[t] if isinstance(d,dict) else np.nan).fillna(0)
        r['syn_'+t]=g.true.iloc[v.values.argmax()]
    res[task]=r
R=pd.DataFrame(res).T
R['n']=[int(t.split('@')[1]) for t in R.index]
print(len(R))
print(R.mean().round(4))
for col in R.columns:
    if col in('n',):continue
    d=R[col]-R['iforest']; print(col, round(d.mean(),4), round(d.min(),3), (d<-0.05).sum())
big=R[R.n>5000]; print('big',len(big)); print((big.drop(columns='n').mean()).round(4))
# spearman between syn and true within tasks
from scipy.stats import spearmanr
rho=[spearmanr(g.syn,g.true).correlation for _,g in df.groupby('task') if g.syn.notna().sum()>3]
rho2=[spearmanr(g.prior,g.true).correlation for _,g in df.groupby('task')]
print('mean spearman syn-true', np.nanmean(rho), 'prior-true', np.nanmean(rho2))
