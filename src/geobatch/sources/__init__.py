"""Readers of open data sources. Each yields plain records (see :mod:`geobatch.sources.records`)."""
