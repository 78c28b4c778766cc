"""Meta-learning: the configuration zoo, meta-features and the knowledge base.

Examples
--------
>>> from metaad.meta import get_zoo
>>> len(get_zoo("default-v1")) >= 300
True
"""

from metaad.meta.features import compute_meta_features
from metaad.meta.knowledge import KnowledgeBase, build_knowledge, load_knowledge
from metaad.meta.recommend import select
from metaad.meta.zoo import Configuration, get_zoo, list_zoos

__all__ = ["Configuration", "KnowledgeBase", "build_knowledge", "compute_meta_features", "get_zoo", "list_zoos", "load_knowledge", "select"]
