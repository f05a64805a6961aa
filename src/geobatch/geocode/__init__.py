"""Forward and reverse geocoding over a loaded index: query analysis, candidates, ranking."""
