"""Workers' rights Q&A: the bilingual knowledge base and the search over it.

kb = load_knowledge_base(extra_dir)   # once, at start-up
searcher = Searcher(kb)               # once; indexes are built here
result = searcher.search(text, lang)  # per message: topic or suggestions
"""

from handlers.rights.kb import (
    REQUIRED_TOPICS,
    Entry,
    KnowledgeBase,
    KnowledgeBaseError,
    RegionArea,
    Topic,
    check_knowledge_dir,
    load_knowledge_base,
)
from handlers.rights.search import Searcher, SearchResult, normalize

__all__ = [
    "REQUIRED_TOPICS",
    "Entry",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "RegionArea",
    "SearchResult",
    "Searcher",
    "Topic",
    "check_knowledge_dir",
    "load_knowledge_base",
    "normalize",
]
