"""Fine-tune aisfx's last conv block and a linear head for ``footstep/p``, judged leave-one-package-out (LP-FT).

Legend: N clips, T samples, C channels, K' frames and M' mel bands of the third block's output
(256 x 2 x 12 for an 8192-sample clip), D = 512 embedding dimension.

The one route to another representation with the weights we have. For each held-out package:

1. The clips (16 kHz, level-normalised as ``aisfx_norm``: loudest 8 ms frame at -20 dBFS) and
   ``copies`` augmented copies of each (time shift -20 ... +40 ms, spectral tilt +-3 dB/octave,
   and half of them a coloured noise floor 30-55 dB down) go through aisfx's frozen first three
   blocks once (stored in float16).
2. Linear probe first, then fine-tune (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained
   Features"): the head starts at the logistic probe (L2 0.03) on the embedding of the training
   side's clips as cut; then the last block (or only its batch-norm scales and shifts) and the
   head train with Adam on the class-balanced log-loss, each clip drawn from one of its copies,
   batch-norm statistics frozen, and an L2 pull towards the pretrained weights (L2-SP, Li et al.
   2018).
3. The training side holds the two other packages' train and test splits (plus the synthetic
   negatives); their val split picks the epoch (held-in AUC), never the held-out package.

Each epoch's held-out logits give a row (pooled AUC and per package), and the row "epoch by
held-in val" is the honest one. A fit takes minutes of one core.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/category_finetune.py [--lr 1e-4 --l2sp 0.01 --epochs 6 --bn-only --mel-mask 0]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fit_category, category_variants

import category_variants as cv  # noqa: E402
import fit_category as fc  # noqa: E402

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, resample  # noqa: E402
from benchbox.metrics import category as cat  # noqa: E402
from benchbox.metrics.cache import set_key  # noqa: E402
from benchbox.metrics.category_features import FRAME_SAMPLES  # noqa: E402
from benchbox.metrics.embedders import AISFX_RATE_HZ, AisfxEmbedder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FROZEN_BLOCKS = 3  # blocks 1-3 stay as trained; block 4 (and the head) fine-tune
BATCH, TRAIN_BATCH = 64, 32
AUGMENT_SEED, TRAIN_SEED = 1, 0


def augment(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One (T,) variation: time shift, spectral tilt, and half the time a coloured noise floor 30-55 dB down."""
    w, n = np.asarray(wave, np.float64), len(wave)
    s = int(rng.uniform(-0.02, 0.04) * PROJECT_SAMPLE_RATE_HZ)
    w = np.r_[np.zeros(s), w[: n - s]] if s > 0 else np.r_[w[-s:], np.zeros(-s)]
    f = np.fft.rfftfreq(n, 1 / PROJECT_SAMPLE_RATE_HZ)
    w = np.fft.irfft(np.fft.rfft(w) * (np.maximum(f, 50.0) / 1000.0) ** rng.uniform(-0.5, 0.5), n)
    if rng.random() < 0.5:
        k = n // FRAME_SAMPLES
        peak = np.sqrt(np.mean(w[: k * FRAME_SAMPLES].reshape(k, FRAME_SAMPLES) ** 2, axis=1)).max()
        noise = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * (np.maximum(f, 50.0) / 1000.0) ** rng.uniform(-1, 0), n)
        w = w + noise / noise.std() * peak * 10 ** (-rng.uniform(30, 55) / 20)
    return w.astype(np.float32)


def frozen_inputs(waves: list[np.ndarray], copies: int, emb: AisfxEmbedder) -> list[torch.Tensor]:
    """``copies + 1`` tensors (N, C, K', M') in float16: the third block's output of the clips as cut, then of each augmented copy."""
    rng, out = np.random.default_rng(AUGMENT_SEED), []
    for c in range(copies + 1):
        batch_waves = waves if c == 0 else [augment(w, rng) for w in waves]
        parts = []
        for s in range(0, len(waves), BATCH):
            x = np.stack([resample(cv.normalise(w, cv.SHIPPED_RMS), PROJECT_SAMPLE_RATE_HZ, AISFX_RATE_HZ) for w in batch_waves[s : s + BATCH]])
            with torch.inference_mode():
                h = emb.spectrogram(torch.from_numpy(x.astype(np.float32))).unsqueeze(1).contiguous(memory_format=torch.channels_last)  # (B, 1, K, M)
                for i in range(FROZEN_BLOCKS):
                    h = getattr(emb._net, f"conv_block{i + 1}")(h)  # (B, C, K', M')
            parts.append(h.contiguous())
        out.append(torch.cat(parts).half())
    return out


class TunedHead(nn.Module):
    """aisfx's block 4 (a copy), aisfx pooling, L2 normalisation, fixed standardisation, linear logit."""

    def __init__(self, emb: AisfxEmbedder):
        super().__init__()
        self.block = copy.deepcopy(emb._net.conv_block4)
        self.register_buffer("mean", torch.zeros(512))
        self.register_buffer("scale", torch.ones(512))
        self.linear = nn.Linear(512, 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(x.float().contiguous(memory_format=torch.channels_last))  # (B, 512, K', M')
        return F.normalize(x.mean(dim=3).amax(dim=2), dim=1)  # (B, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((self.embed(x) - self.mean) / self.scale).squeeze(1)  # (B,)

    def logits(self, x: torch.Tensor) -> np.ndarray:
        self.eval()
        with torch.no_grad():
            return torch.cat([self(x[s : s + 256]) for s in range(0, len(x), 256)]).numpy()

    def warm_start(self, x: torch.Tensor, y: np.ndarray) -> None:
        """Standardisation and head from the logistic probe (L2 0.03) on the frozen embedding of (N, ...) inputs."""
        self.eval()  # batch-norm running statistics, as the pretrained network uses them
        with torch.no_grad():
            e = torch.cat([self.embed(x[s : s + 256]) for s in range(0, len(x), 256)]).numpy()  # (N, D)
        mean, scale = e.mean(axis=0), np.maximum(e.std(axis=0), 1e-6)
        w, b = cat.fit_logistic((e - mean) / scale, y, l2=cv.L2, weight=cat.balanced_weights(y))
        self.mean.copy_(torch.from_numpy(mean))
        self.scale.copy_(torch.from_numpy(scale))
        self.linear.weight.data[:] = torch.from_numpy(w.astype(np.float32))
        self.linear.bias.data[:] = float(b)


def train_epoch(model: TunedHead, opt, inputs: list[torch.Tensor], tr: np.ndarray, y: np.ndarray, rng: np.random.Generator, args, reference: list[torch.Tensor]) -> None:
    """One pass over the training index ``tr``, each clip from a random copy, batch-norm statistics frozen."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    target = torch.from_numpy(y.astype(np.float32))
    weight = torch.from_numpy(cat.balanced_weights(y[tr]).astype(np.float32)) * len(tr)
    order = rng.permutation(len(tr))
    for s in range(0, len(tr), TRAIN_BATCH):
        idx = tr[order[s : s + TRAIN_BATCH]]
        copy_of = rng.integers(0, len(inputs), len(idx))
        xb = torch.stack([inputs[c][i] for c, i in zip(copy_of, idx)]).float()  # (B, C, K', M')
        for r in range(len(xb)) if args.mel_mask else ():  # zero up to mel_mask adjacent mel bins
            width = int(rng.integers(0, args.mel_mask + 1))
            start = int(rng.integers(0, xb.shape[3] - width + 1))
            xb[r, :, :, start : start + width] = 0
        loss = F.binary_cross_entropy_with_logits(model(xb), target[idx], weight=weight[order[s : s + TRAIN_BATCH]])
        loss = loss + args.l2sp * sum(((p - p0) ** 2).sum() for p, p0 in zip(model.block.parameters(), reference))
        opt.zero_grad()
        loss.backward()
        opt.step()


def lopo_finetune(inputs: list[torch.Tensor], y: np.ndarray, pk: np.ndarray, split: np.ndarray, emb: AisfxEmbedder, args) -> tuple[np.ndarray, np.ndarray, dict]:
    """(epochs + 1, N) held-out logits after each epoch (0: the warm start), (N,) those of the epoch the held-in val AUC picked, the picks."""
    per_epoch = np.full((args.epochs + 1, len(y)), np.nan)
    chosen, picks = np.full(len(y), np.nan), {}
    for held, train_all, te in fc.lopo_splits(pk):
        torch.manual_seed(TRAIN_SEED)
        rng = np.random.default_rng(TRAIN_SEED)
        va, tr = train_all[split[train_all] == "val"], train_all[split[train_all] != "val"]
        model = TunedHead(emb)
        model.warm_start(inputs[0][tr], y[tr])
        reference = [p.detach().clone() for p in model.block.parameters()]
        params = [p for name, p in model.named_parameters() if not args.bn_only or ".bn" in name or name.startswith("linear")]
        opt = torch.optim.Adam(params, lr=args.lr)
        val_auc = []
        for epoch in range(args.epochs + 1):
            if epoch:
                train_epoch(model, opt, inputs, tr, y, rng, args, reference)
            per_epoch[epoch, te] = model.logits(inputs[0][te])
            val_auc.append(cat.auc(model.logits(inputs[0][va]), y[va]))
            print(f"{held} epoch {epoch}: held-in val AUC {val_auc[-1]:.3f}, held out {cat.auc(per_epoch[epoch, te], y[te]):.3f}", file=sys.stderr, flush=True)
        picks[held] = int(np.argmax(val_auc))
        chosen[te] = per_epoch[picks[held], te]
    return per_epoch, chosen, picks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="folder for (or holding) the imported corpora")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    ap.add_argument("--l2sp", type=float, default=1e-2, help="weight of the squared distance to the pretrained block-4 weights")
    ap.add_argument("--copies", type=int, default=3, help="augmented copies of every clip")
    ap.add_argument("--bn-only", action="store_true", help="train only block 4's batch-norm scales and shifts (and the head)")
    ap.add_argument("--mel-mask", type=int, default=0, help="zero up to this many adjacent mel bins of block 4's input (of 12)")
    ap.add_argument("--cache", type=Path, default=None, help="folder to keep the frozen blocks' outputs in between runs (keyed by the clips' hashes)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows, waves = fc.training_set(args.data)
    y, pk = rows["y"].to_numpy(), rows["package"].to_numpy()
    emb = cv.loaded_embedder()
    key = set_key(rows["sha256"])[:16]  # the clips' audio (the frozen blocks' outputs ignore labels and splits)
    path = None if args.cache is None else args.cache / f"finetune-inputs-{key}-{args.copies}.pt"
    if path is not None and path.is_file():
        inputs = torch.load(path, weights_only=True)
    else:
        inputs = frozen_inputs(waves, args.copies, emb)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(inputs, path)
    per_epoch, chosen, picks = lopo_finetune(inputs, y, pk, rows["split"].to_numpy(), emb, args)
    what = f"fine-tuned block 4{' batch-norm only' if args.bn_only else ''}, lr {args.lr:g}, L2-SP {args.l2sp:g}, {args.copies} copies" + (f", mel mask {args.mel_mask}" if args.mel_mask else "")
    for epoch, score in enumerate(per_epoch):
        print(cv.row(f"{what}, epoch {epoch}", score, y, pk))
    print(cv.row(f"{what}, epoch by held-in val {picks}", chosen, y, pk))


if __name__ == "__main__":
    main()
