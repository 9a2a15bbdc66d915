"""Metrics: embedders (``embedders``, ``vggish``), distribution distances (``fad``), the
content-hash embedding cache (``cache``) and artefact detectors.

Submodules are imported explicitly (``from benchbox.metrics import fad``): ``fad`` is
pure numpy/scipy, while the embedders pull in torch.
"""
