"""benchbox: a benchmark toolkit for neural sound-effect generators.

Waveforms are float32 in [-1, 1] everywhere; tokens are int64 in [0, 256).
"""

__version__ = "0.1.0"
