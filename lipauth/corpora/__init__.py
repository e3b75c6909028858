"""Corpus readers, one per corpus, all producing `CorpusItem`s and `LipClip`s."""

from lipauth.corpora.base import CorpusItem, CorpusReader, corpus_names, get_corpus

__all__ = ["CorpusItem", "CorpusReader", "corpus_names", "get_corpus"]
