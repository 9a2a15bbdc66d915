"""Datasets: import a folder of recordings, the procedural corpus, and the on-disk format."""
