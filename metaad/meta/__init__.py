"""Meta-learning: meta-features, the knowledge base, the selector, synthetic evidence and ``auto``.

Examples
--------
>>> from metaad.meta import load_knowledge
>>> load_knowledge().manifest["format_version"]
2
"""

from metaad.meta.features import meta_features
from metaad.meta.knowledge import KnowledgeBase, build_knowledge, load_knowledge
from metaad.meta.recommend import select

__all__ = ["KnowledgeBase", "build_knowledge", "load_knowledge", "meta_features", "select"]
