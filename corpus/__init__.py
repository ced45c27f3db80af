"""Fixtures and synthetic histories (installed as analyzer.corpus_data for the embedded default)."""
