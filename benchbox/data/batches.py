"""Training batches from a dataset: clips as waves and codes, augmentation, crops, a seeded order.

Legend: B batch (per process), T time in samples, N clips, W processes.

Each split is held twice: float waves (N, T) in [-1, 1] (after :func:`minmax_scale` when
``data.normalise = "minmax"``) and their codes (N, T) under the run's quantisation, plus
label indices (N,) into the train split's sorted label names (-1: unlabelled or unseen).
A generator sees both forms in a :class:`~benchbox.generators.base.Batch`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchbox.audio import encode
from benchbox.data.dataset import load_dataset
from benchbox.errors import ConfigError, DataError
from benchbox.generators.base import Batch
from benchbox.train_config import AugmentConfig, DataConfig, derive_seed

SPLITS = ("train", "val", "test")
NO_LABEL = -1


@dataclass(frozen=True)
class Clips:
    """One split of the dataset in every form the trainer hands out."""

    waves: torch.Tensor  # (N, T) float32 in [-1, 1]
    codes: torch.Tensor  # (N, T) uint8
    labels: torch.Tensor  # (N,) int64, NO_LABEL where none

    def __len__(self) -> int:
        return self.codes.shape[0]

    def batch(self, idx: torch.Tensor | slice) -> Batch:
        return Batch(waves=self.waves[idx], codes=self.codes[idx].long(), labels=self.labels[idx])


def augment(waves: torch.Tensor, cfg: AugmentConfig, sample_rate_hz: int, gen: torch.Generator) -> torch.Tensor:
    """(B, T) float waveforms -> (B, T) randomly gained, flipped and shifted copies."""
    batch, length = waves.shape
    out = waves.clone()
    if cfg.gain_db > 0:
        db = (torch.rand(batch, generator=gen) * 2 - 1) * cfg.gain_db  # (B,)
        out = (out * (10.0 ** (db / 20.0))[:, None]).clamp(-1.0, 1.0)
    if cfg.polarity:
        out = out * torch.where(torch.rand(batch, generator=gen) < 0.5, -1.0, 1.0)[:, None]
    max_shift = int(round(cfg.shift_ms * sample_rate_hz / 1000.0))
    if max_shift > 0:
        shifts = torch.randint(-max_shift, max_shift + 1, (batch,), generator=gen)  # (B,)
        src = torch.arange(length)[None, :] - shifts[:, None]  # (B, T): sample t comes from t - shift
        valid = (src >= 0) & (src < length)
        out = torch.where(valid, torch.gather(out, 1, src.clamp(0, length - 1)), 0.0)
    return out


MINMAX_GUARD = 1e-6  # the official loader's guard against a constant clip


def minmax_scale(waves: torch.Tensor) -> torch.Tensor:
    """(N, T) -> (N, T): each clip's minimum to -1 and maximum to +1, as the official
    SaShiMi data loader does before it quantises (state-spaces/s4,
    ``src/dataloaders/audio.py``: ``minmax_scale(x, -1, 1)`` = -1 + 2 (x - min) / (max - min + 1e-6)).
    Silence then lands at -(max + min) / (max - min), off zero unless the clip is
    symmetric: the suspected source of the seed study's non-zero means."""
    low = waves.amin(dim=1, keepdim=True)  # (N, 1)
    high = waves.amax(dim=1, keepdim=True)  # (N, 1)
    return -1.0 + 2.0 * (waves - low) / (high - low + MINMAX_GUARD)


def load_waves(data: DataConfig, split: str) -> tuple[torch.Tensor, int]:
    """(N, T) float32 waveforms of one split (scaled per ``data.normalise``) and the sample rate."""
    ds = load_dataset(data.path)
    waves = torch.as_tensor(ds.load_clips(split), dtype=torch.float32)  # (N, T)
    return (minmax_scale(waves) if data.normalise == "minmax" else waves), ds.sample_rate_hz


def load_clips(data: DataConfig) -> dict[str, Clips]:
    """{"train", "val", "test"} -> :class:`Clips` of the dataset, quantised as stored (after
    :func:`minmax_scale` when ``data.normalise = "minmax"``).
    Train and val must hold clips; an empty test split gives (0, T) tensors."""
    ds = load_dataset(data.path)
    if data.crop_samples > ds.clip_samples:
        raise ConfigError(f"data.crop_samples = {data.crop_samples} exceeds the clips' {ds.clip_samples} samples", hint="lower data.crop_samples or set it to 0")
    names = sorted({str(v) for v in ds.rows("train")["label"]} - {""})
    out = {}
    for split in SPLITS:
        rows = ds.rows(split)
        if rows.empty:
            if split == "test":
                empty = torch.zeros(0, ds.clip_samples)
                out[split] = Clips(empty, empty.to(torch.uint8), torch.zeros(0, dtype=torch.long))
                continue
            raise DataError(f"{data.path}: no clips in the '{split}' split", hint="re-import with a split that gives train and val clips")
        waves, _ = load_waves(data, split)
        labels = torch.tensor([names.index(str(v)) if str(v) in names else NO_LABEL for v in rows["label"]], dtype=torch.long)  # (N,)
        out[split] = Clips(waves, encode(waves, data.quantisation).to(torch.uint8), labels)  # codes (N, T)
    return out


def load_codes(data: DataConfig) -> dict[str, torch.Tensor]:
    """{"train", "val", "test"} -> (N, T) uint8 codes of the dataset (see :func:`load_clips`)."""
    return {split: clips.codes for split, clips in load_clips(data).items()}


def label_names(data: DataConfig) -> list[str]:
    """The train split's distinct labels, sorted: label index i names ``label_names[i]``."""
    return sorted({str(v) for v in load_dataset(data.path).rows("train")["label"]} - {""})


class BatchStream:
    """An endless stream of clip indices: one seeded permutation per epoch, concatenated.

    Each step takes ``batch * world`` indices; process ``rank`` uses every ``world``-th.
    ``state()`` = (epoch, position) is all it takes to continue the stream exactly.
    """

    def __init__(self, n: int, batch: int, seed: int, world: int = 1, rank: int = 0, epoch: int = 0, position: int = 0):
        self.n, self.batch, self.seed, self.world, self.rank = n, batch, seed, world, rank
        self.epoch, self.position = epoch, position

    def _order(self, epoch: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "order", epoch))
        return torch.randperm(self.n, generator=gen)  # (N,)

    def next(self) -> torch.Tensor:
        need, parts = self.batch * self.world, []
        while need:
            order = self._order(self.epoch)[self.position :]
            take = order[:need]
            parts.append(take)
            need -= len(take)
            self.position += len(take)
            if self.position == self.n:
                self.epoch, self.position = self.epoch + 1, 0
        return torch.cat(parts)[self.rank :: self.world]  # (B,)

    def epochs_done(self) -> float:
        return self.epoch + self.position / self.n

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}


def crop(codes: torch.Tensor, crop_samples: int, gen: torch.Generator | None) -> torch.Tensor:
    """(B, T) -> (B, crop_samples): random windows (gen) or the first samples (gen None)."""
    if crop_samples == 0 or crop_samples == codes.shape[1]:
        return codes
    if gen is None:
        return codes[:, :crop_samples]
    starts = torch.randint(0, codes.shape[1] - crop_samples + 1, (codes.shape[0],), generator=gen)  # (B,)
    idx = starts[:, None] + torch.arange(crop_samples)[None, :]  # (B, T')
    return torch.gather(codes, 1, idx)




def train_batch(clips: Clips, idx: torch.Tensor, *, data: DataConfig, sample_rate_hz: int, seed: int, step: int, rank: int) -> Batch:
    """The training batch of clips ``idx`` at ``step``: augmented (waves, then re-quantised)
    when configured, then cropped; every draw is seeded by (seed, step, rank)."""
    batch = clips.batch(idx)
    if data.augment.enabled:
        gen = torch.Generator().manual_seed(derive_seed(seed, "augment", step, rank))
        waves = augment(batch.waves, data.augment, sample_rate_hz, gen)  # (B, T)
        batch = Batch(waves=waves, codes=encode(waves, data.quantisation), labels=batch.labels)
    if data.crop_samples in (0, batch.codes.shape[1]):
        return batch
    crop_seed = derive_seed(seed, "crop", step, rank)
    waves = crop(batch.waves, data.crop_samples, torch.Generator().manual_seed(crop_seed))  # (B, T')
    codes = crop(batch.codes, data.crop_samples, torch.Generator().manual_seed(crop_seed))  # (B, T'): the same windows
    return Batch(waves=waves, codes=codes, labels=batch.labels)
