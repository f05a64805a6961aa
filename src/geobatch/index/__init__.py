"""The on-disk index: one SQLite file per data set in an index directory.

:mod:`~geobatch.index.build` writes a data set (single writer, into a temporary file swapped in
when complete); :mod:`~geobatch.index.read` loads data sets for the geocoders (many readers).
"""
