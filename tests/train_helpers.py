"""Small corpora and shrunken presets shared by the train / sample / checkpoint tests."""

from __future__ import annotations

from pathlib import Path

from benchbox.data.synth import SynthConfig, synth_corpus
from benchbox.train import train

CORPUS_CLIPS = 24
CORPUS_CLIP_SAMPLES = 4096
CROP_SAMPLES = 256

# The quickstart presets, shrunk so a step takes milliseconds on a busy 2-core machine.
SHRINK = {
    "sashimi": ["model.d_model=16", "model.n_layers=1", "model.pool=[4]", "model.d_state=8"],
    "wavenet": [
        "model.stacks=1", "model.layers_per_stack=4", "model.residual_channels=16",
        "model.dilation_channels=16", "model.skip_channels=32", "model.end_channels=32",
    ],
}  # fmt: skip
FAST = ["train.batch_size=4", "train.warmup_steps=2", "train.val_batches=1", "train.lr=0.005", f"data.crop_samples={CROP_SAMPLES}", "train.baselines=false"]


def corpus(root: Path, n: int = CORPUS_CLIPS) -> Path:
    """A synthetic footstep dataset (train/val/test splits) of ``n`` short clips."""
    return synth_corpus(root, n=n, seed=0, config=SynthConfig(clip_samples=CORPUS_CLIP_SAMPLES))


def tiny_overrides(generator: str, steps: int, eval_every: int, *extra: str) -> list[str]:
    return [*SHRINK[generator], *FAST, f"train.max_steps={steps}", f"train.eval_every={eval_every}", *extra]


def tiny_run(out: Path, data: Path, generator: str = "sashimi", steps: int = 2, *extra: str, progress=None):
    """Train a shrunken ``<generator>-tiny`` for ``steps`` steps on CPU into ``out``."""
    return train(generator=generator, data=data, out=out, overrides=tiny_overrides(generator, steps, steps, *extra), device="cpu", progress=progress)
