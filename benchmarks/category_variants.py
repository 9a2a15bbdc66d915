"""Leave-one-package-out AUC of the category-model variants in docs/verdict.md (the rows beyond ``fit_category.py --explore``).

Legend: N clips, T samples, D feature dimension, C channels of an aisfx conv block, K frames and M mel
bands of aisfx's log-mel input, K' and M' after a block's pooling, J sub-windows per clip.

Every variant is scored the same way: for each package, a probe fitted on the other two packages'
clips (both corpora, all splits, plus ``fit_category``'s synthetic training negatives) gives the
held-out package's real clips a raw score; a row is the pooled AUC and each package's. Groups:

* ``table`` (scorer version 5's search, measured with 40 synthetic negatives per kind): the aisfx
  embedding of the clip as recorded and level-normalised at several levels; other poolings and
  layers of the aisfx network; the checkpoint's nine heads; the envelope statistics;
  gradient-boosted trees; one augmented copy of every training clip; equal weight per package and
  class.
* ``probes`` (issue 22, with 100 per kind as shipped): other probe families on the frozen
  ``aisfx_norm`` embedding (RBF-SVM, shrinkage LDA, nearest-neighbour ratio, a small MLP stopped
  early on the held-in val split) and objectives for unseen domains (nuisance attribute
  projection, V-REx, group DRO).
* ``views`` (100 per kind): test-time augmentation (mean logit over time shifts and levels),
  sub-windows as multiple instances, the clip framed to aisfx's native 2.3 s block, and the
  log-mel input with the recording chain's colouring taken out (spectral tilt, band means).
* ``centred`` (100 per kind): the best of those, the clip centred in aisfx's block, at other
  levels and penalties.

Fine-tuning the network's last block is in ``category_finetune.py``. Each row is one measurement
among many (docs/verdict.md counts them): read differences under 0.01 as noise.

Usage (one CPU core: ``table`` about 15 minutes, ``probes`` 3, ``views`` 30, ``centred`` 12)::

    PYTHONPATH=. .venv/bin/python benchmarks/category_variants.py --group probes [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fit_category, run as a script or loaded by path

import fit_category as fc  # noqa: E402

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, resample  # noqa: E402
from benchbox.metrics import category as cat  # noqa: E402
from benchbox.metrics.category_features import FRAME_SAMPLES, aisfx_direction, envelope_matrix  # noqa: E402
from benchbox.metrics.embedders import AISFX_BLOCK_FRAMES, AISFX_POOLS, AISFX_RATE_HZ, AisfxEmbedder, _aisfx_safe_globals, aisfx_weights_path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GROUPS = ("table", "probes", "views", "centred")
TABLE_PER_KIND = 40  # synthetic negatives per kind when the ``table`` rows were measured (scorer version 5)
LEVELS_RMS = (None, 0.01, 0.03, 0.1, 0.3)  # loudest 8 ms frame's RMS after normalising; None: as recorded
SHIPPED_RMS = 0.1
L2, L2_GRID = 0.03, (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
HEADS = 9
BATCH = 32
AUGMENT_SEED = 1
SHIFTS_MS = (-48, -24, -12, 0, 12, 24, 48)
WINDOW_SAMPLES, WINDOW_HOP_SAMPLES = 4000, 1024  # 0.25 s sub-windows, 0.064 s apart


def normalise(wave: np.ndarray, rms: float | None) -> np.ndarray:
    """(T,) wave with its loudest 8 ms frame at ``rms`` (None: unchanged)."""
    if rms is None:
        return np.asarray(wave, dtype=np.float32)
    k = len(wave) // FRAME_SAMPLES
    peak = np.sqrt(np.mean(np.asarray(wave[: k * FRAME_SAMPLES], np.float64).reshape(k, FRAME_SAMPLES) ** 2, axis=1)).max()
    return (wave * (rms / max(peak, 1e-8))).astype(np.float32)


def shift(wave: np.ndarray, ms: float) -> np.ndarray:
    """(T,) wave delayed by ``ms`` (advanced when negative), zero-filled."""
    s, n = int(round(ms * PROJECT_SAMPLE_RATE_HZ / 1000)), len(wave)
    return np.r_[np.zeros(s, np.float32), wave[: n - s]] if s > 0 else np.r_[wave[-s:], np.zeros(-s, np.float32)]


def loaded_embedder() -> AisfxEmbedder:
    emb = AisfxEmbedder()
    emb.load()
    return emb


def spectrograms(waves: list[np.ndarray], rms: float | None, emb: AisfxEmbedder) -> torch.Tensor:
    """(N, K, M) aisfx log-mel input of N 16 kHz waves, each level-normalised to ``rms`` first."""
    out = []
    for s in range(0, len(waves), BATCH):
        batch = np.stack([resample(normalise(w, rms), PROJECT_SAMPLE_RATE_HZ, AISFX_RATE_HZ) for w in waves[s : s + BATCH]])
        with torch.inference_mode():
            out.append(emb.spectrogram(torch.from_numpy(batch.astype(np.float32))))
    return torch.cat(out)


def blocks(spec: torch.Tensor, emb: AisfxEmbedder) -> list[torch.Tensor]:
    """The four conv blocks' outputs (N, C, K', M') of an (N, K, M) log-mel input."""
    out: list[list[torch.Tensor]] = [[] for _ in AISFX_POOLS]
    for s in range(0, len(spec), BATCH):
        x = spec[s : s + BATCH].unsqueeze(1).contiguous(memory_format=torch.channels_last)  # (B, 1, K, M)
        with torch.inference_mode():
            for i in range(len(AISFX_POOLS)):
                x = getattr(emb._net, f"conv_block{i + 1}")(x)  # (B, C, K', M')
                out[i].append(x)
    return [torch.cat(o) for o in out]


def aisfx_pool(b4: torch.Tensor) -> np.ndarray:
    """(N, 512) aisfx's own pooling of the last block: mean over mel, max over time."""
    return b4.mean(dim=3).amax(dim=2).numpy()


def block_features(waves: list[np.ndarray], rms: float | None, emb: AisfxEmbedder) -> dict[str, np.ndarray]:
    """Poolings of the aisfx conv blocks of N 16 kHz waves: ``emb`` (aisfx's own) and others."""
    _, b2, b3, b4 = blocks(spectrograms(waves, rms, emb), emb)
    over_mel = b4.mean(dim=3)  # (N, C, K')
    return {"emb": aisfx_pool(b4), "b4mean": b4.mean(dim=(2, 3)).numpy(), "b4max": b4.amax(dim=(2, 3)).numpy(),
            "b4std": over_mel.std(dim=2, correction=0).numpy(), "b3mean": b3.mean(dim=(2, 3)).numpy(), "b3max": b3.amax(dim=(2, 3)).numpy(),
            "b2mean": b2.mean(dim=(2, 3)).numpy()}  # fmt: skip


def heads_logp(emb: np.ndarray) -> np.ndarray:
    """(N, sum of classes) log-softmax of the checkpoint's nine classification heads on (N, 512) embeddings."""
    with torch.serialization.safe_globals(_aisfx_safe_globals()):
        state = torch.load(aisfx_weights_path(), map_location="cpu", weights_only=True)[0]
    out = []
    for head in range(HEADS):
        h = torch.from_numpy(emb.astype(np.float32))
        for i in (0, 2, 4):
            h = h @ state[f"fc.{head}.{i}.weight"].T + state[f"fc.{head}.{i}.bias"]
            h = torch.relu(h) if i < 4 else h
        out.append(torch.log_softmax(h, dim=1).numpy())
    return np.concatenate(out, axis=1)


def augment(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One (T,) recording-chain variation: time shift, spectral tilt, low/high-pass, short reverb, noise floor."""
    w, n = np.asarray(wave, np.float64), len(wave)
    s = int(rng.uniform(-0.02, 0.04) * PROJECT_SAMPLE_RATE_HZ)
    w = np.r_[np.zeros(s), w[: n - s]] if s > 0 else np.r_[w[-s:], np.zeros(-s)]
    f = np.fft.rfftfreq(n, 1.0 / PROJECT_SAMPLE_RATE_HZ)
    gain = (np.maximum(f, 50.0) / 1000.0) ** rng.uniform(-0.5, 0.5)  # +-3 dB/octave around 1 kHz
    if rng.random() < 0.5:
        gain = gain / np.sqrt(1 + (f / rng.uniform(3000, 7500)) ** 8)
    if rng.random() < 0.3:
        gain = gain / np.sqrt(1 + (rng.uniform(60, 300) / np.maximum(f, 1.0)) ** 4)
    w = np.fft.irfft(np.fft.rfft(w) * gain, n)
    if rng.random() < 0.3:
        length = int(rng.uniform(0.1, 0.4) * PROJECT_SAMPLE_RATE_HZ)
        wet = np.convolve(w, rng.standard_normal(length) * np.exp(-6.9 * np.arange(length) / length))[:n]
        w = w + rng.uniform(0.05, 0.3) * wet * np.std(w) / max(np.std(wet), 1e-12)
    if rng.random() < 0.5:
        k = n // FRAME_SAMPLES
        peak = np.sqrt(np.mean(w[: k * FRAME_SAMPLES].reshape(k, FRAME_SAMPLES) ** 2, axis=1)).max()
        noise = rng.standard_normal(n)
        w = w + noise / np.std(noise) * peak * 10 ** (-rng.uniform(30, 55) / 20)
    return w.astype(np.float32)


# ------------------------------------------------------------------- probes


def standardised(x_train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """``x_train`` and ``others`` standardised by ``x_train``'s mean and scale."""
    mean, scale = x_train.mean(axis=0), np.maximum(x_train.std(axis=0), 1e-6)
    return [(x - mean) / scale for x in (x_train, *others)]


def lopo_logistic(x: np.ndarray, y: np.ndarray, pk: np.ndarray, l2: float, *, extra: np.ndarray | None = None, per_cell: bool = False) -> np.ndarray:
    """(N,) held-out logits; ``extra`` (N, D): an augmented copy of every clip, added on the training side only."""
    out = np.full(len(y), np.nan)
    for _, tr, te in fc.lopo_splits(pk):
        xt, yt = (x[tr], y[tr]) if extra is None else (np.concatenate([x[tr], extra[tr]]), np.concatenate([y[tr], y[tr]]))
        weight = cat.balanced_weights(yt)
        if per_cell:  # each package x class cell the same weight, then the classes balanced
            cells = np.char.add(pk[tr].astype(str), y[tr].astype(str))
            _, inv, count = np.unique(cells, return_inverse=True, return_counts=True)
            weight = 1.0 / count[inv]
            weight = np.where(yt > 0, weight / weight[yt > 0].sum(), weight / weight[yt == 0].sum())
        xt, xe = standardised(xt, x[te])
        w, b = cat.fit_logistic(xt, yt, l2=l2, weight=weight)
        out[te] = xe @ w + b
    return out


def lopo_views(train_views: list[np.ndarray], test_views: list[np.ndarray], y: np.ndarray, pk: np.ndarray) -> np.ndarray:
    """(N,) held-out mean logit over ``test_views`` (each (N, D)) of a probe fitted on every clip of ``train_views``."""
    out = np.full(len(y), np.nan)
    for _, tr, te in fc.lopo_splits(pk):
        xt, yt = np.concatenate([v[tr] for v in train_views]), np.tile(y[tr], len(train_views))
        mean, scale = xt.mean(axis=0), np.maximum(xt.std(axis=0), 1e-6)
        w, b = cat.fit_logistic((xt - mean) / scale, yt, l2=L2, weight=cat.balanced_weights(yt))
        out[te] = np.mean([((v[te] - mean) / scale) @ w + b for v in test_views], axis=0)
    return out


def lopo_fit(x: np.ndarray, y: np.ndarray, pk: np.ndarray, fit, *, standardise: bool = True) -> np.ndarray:
    """(N,) held-out scores of ``fit(x_train, y_train, x_test, train_index) -> scores`` (standardised by the training side)."""
    out = np.full(len(y), np.nan)
    for _, tr, te in fc.lopo_splits(pk):
        xt, xe = standardised(x[tr], x[te]) if standardise else (x[tr], x[te])
        out[te] = fit(xt, y[tr], xe, tr)
    return out


def lopo_trees(x: np.ndarray, y: np.ndarray, pk: np.ndarray) -> np.ndarray:
    """(N,) held-out decision values of sklearn's HistGradientBoosting (balanced classes, seeded)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, class_weight="balanced", random_state=0)
    return lopo_fit(x, y, pk, lambda a, b, c, *_: model.fit(a, b).decision_function(c), standardise=False)


def knn_ratio(k: int):
    """Mean cosine to the ``k`` nearest footsteps minus to the ``k`` nearest non-footsteps."""

    def fit(a, b, c, *_):
        sim = (c / np.linalg.norm(c, axis=1, keepdims=True)) @ (a / np.linalg.norm(a, axis=1, keepdims=True)).T  # (n, N)
        return np.sort(sim[:, b == 1], axis=1)[:, -k:].mean(1) - np.sort(sim[:, b == 0], axis=1)[:, -k:].mean(1)

    return fit


def mlp(split: np.ndarray, hidden: int, dropout: float, weight_decay: float, *, patience: int = 10, max_epochs: int = 200):
    """D-hidden-1 MLP (input dropout 0.2), AdamW, stopped when the AUC on the training packages' val ``split`` stops rising."""

    def fit(a, b, c, tr):
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        va = split[tr] == "val"
        net = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(a.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, 1))
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
        xt, yt = torch.from_numpy(a[~va].astype(np.float32)), torch.from_numpy(b[~va].astype(np.float32))
        wt = torch.from_numpy(cat.balanced_weights(b[~va]).astype(np.float32)) * len(yt)
        xv, xe = torch.from_numpy(a[va].astype(np.float32)), torch.from_numpy(c.astype(np.float32))
        best, out, stale = -1.0, None, 0
        for _ in range(max_epochs):
            net.train()
            order = torch.from_numpy(rng.permutation(len(xt)))
            for s in range(0, len(xt), 64):
                i = order[s : s + 64]
                loss = F.binary_cross_entropy_with_logits(net(xt[i]).squeeze(1), yt[i], weight=wt[i])
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                v = cat.auc(net(xv).squeeze(1).numpy(), b[va])
                best, out, stale = (v, net(xe).squeeze(1).numpy(), 0) if v > best + 1e-4 else (best, out, stale + 1)
            if stale >= patience:
                break
        return out

    return fit


def nap(k: int, groups: np.ndarray):
    """Nuisance attribute projection: remove the top-``k`` directions of within-class group means, then the logistic probe.

    ``groups`` (N,) names each clip's group (its package, or its source file); the directions are
    estimated on the training side only.
    """

    def fit(a, b, c, tr):
        g = groups[tr]
        spread = []
        for cls in (0, 1):
            centre = a[b == cls].mean(axis=0)
            for name in np.unique(g[b == cls]):
                sel = (b == cls) & (g == name)
                spread.append(np.sqrt(sel.sum()) * (a[sel].mean(axis=0) - centre))
        u = np.linalg.svd(np.array(spread), full_matrices=False)[2][:k]  # (k, D)
        a, c = a - (a @ u.T) @ u, c - (c @ u.T) @ u
        a, c = standardised(a, c)
        w, bias = cat.fit_logistic(a, b, l2=L2, weight=cat.balanced_weights(b))
        return c @ w + bias

    return fit


def risk_objective(pk: np.ndarray, beta: float, *, worst: bool = False):
    """Logistic probe (warm-started at the plain fit) minimising the training packages' mean risk + beta x their variance
    (V-REx), or the worst package's risk (group DRO); the synthetic negatives join every package's risk."""

    def fit(a, b, c, tr):
        train_pk = pk[tr]
        w0, b0 = cat.fit_logistic(a, b, l2=L2, weight=cat.balanced_weights(b))
        xa, ya = torch.from_numpy(a.astype(np.float32)), torch.from_numpy(b.astype(np.float32))
        w = torch.tensor(w0, dtype=torch.float32, requires_grad=True)
        bias = torch.tensor([b0], dtype=torch.float32, requires_grad=True)
        synthetic = np.flatnonzero(train_pk == fc.SYNTHETIC)
        envs = [np.r_[np.flatnonzero(train_pk == p), synthetic] for p in np.unique(train_pk) if p != fc.SYNTHETIC]
        opt = torch.optim.LBFGS([w, bias], max_iter=300, line_search_fn="strong_wolfe")

        def risk(idx: np.ndarray) -> torch.Tensor:
            weight = torch.from_numpy(cat.balanced_weights(b[idx]).astype(np.float32))
            return (weight * F.binary_cross_entropy_with_logits(xa[idx] @ w + bias, ya[idx], reduction="none")).sum()

        def closure() -> torch.Tensor:
            opt.zero_grad()
            r = torch.stack([risk(e) for e in envs])
            loss = (r.max() if worst else r.mean() + beta * r.var(correction=0)) + 0.5 * L2 * (w**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return c @ w.detach().numpy() + bias.item()

    return fit


# ------------------------------------------------------------------- groups


def row(name: str, score: np.ndarray, y: np.ndarray, pk: np.ndarray) -> str:
    real = pk != fc.SYNTHETIC
    per = " | ".join(f"{cat.auc(score[pk == p], y[pk == p]):.3f}" for p in fc.PACKAGES)
    return f"| {name} | {cat.auc(score[real], y[real]):.3f} | {per} |"


def table_rows(waves: list[np.ndarray], y: np.ndarray, pk: np.ndarray, emb: AisfxEmbedder):
    """Scorer version 5's search (measured with ``TABLE_PER_KIND`` synthetic negatives per kind)."""
    by_level = {rms: block_features(waves, rms, emb) for rms in LEVELS_RMS}
    shipped = aisfx_direction(by_level[SHIPPED_RMS]["emb"])
    envelope = envelope_matrix(waves)
    for rms, f in by_level.items():
        label = "as recorded" if rms is None else f"loudest frame at {20 * np.log10(rms):.0f} dBFS"
        yield f"aisfx direction, {label}", lopo_logistic(aisfx_direction(f["emb"]), y, pk, L2)
        yield f"last block mean over time and mel, {label}", lopo_logistic(f["b4mean"], y, pk, L2)
    for l2 in L2_GRID:
        yield f"`aisfx_norm`, L2 {l2}", lopo_logistic(shipped, y, pk, l2)
    f = by_level[SHIPPED_RMS]
    heads = heads_logp(f["emb"])
    named = {"envelope + `aisfx_norm`": np.c_[envelope, shipped], "`aisfx_norm` length kept": f["emb"], "last block max": f["b4max"],
             "aisfx embedding + std over time": np.c_[f["emb"], f["b4std"]], "third block mean": f["b3mean"], "third block max": f["b3max"],
             "second block mean": f["b2mean"], "third + fourth block, mean and max": np.c_[f["b3mean"], f["b3max"], f["b4mean"], f["b4max"]],
             "`aisfx_norm` + last block mean": np.c_[shipped, f["b4mean"]], "nine heads + `aisfx_norm`": np.c_[heads, shipped],
             "`aisfx_norm` at -30 and -10 dBFS": np.c_[aisfx_direction(by_level[0.03]["emb"]), aisfx_direction(by_level[0.3]["emb"])]}  # fmt: skip
    for name, x in named.items():
        yield name, lopo_logistic(x, y, pk, L2)
    for l2 in (0.01, 0.1, 1.0):
        yield f"nine heads' log-softmax, L2 {l2}", lopo_logistic(heads, y, pk, l2)
    levels = [aisfx_direction(by_level[r]["emb"]) for r in LEVELS_RMS if r is not None]
    yield "mean logit of the four level-normalised probes", np.mean([lopo_logistic(x, y, pk, L2) for x in levels], axis=0)
    for name, x in (("`aisfx_norm`", shipped), ("envelope + `aisfx_norm`", np.c_[envelope, shipped]), ("nine heads", heads)):
        yield f"trees on {name}", lopo_trees(x, y, pk)
    rng = np.random.default_rng(AUGMENT_SEED)
    augmented = aisfx_direction(block_features([augment(w, rng) for w in waves], SHIPPED_RMS, emb)["emb"])
    yield "`aisfx_norm` + one augmented copy of every training clip", lopo_logistic(shipped, y, pk, L2, extra=augmented)
    yield "`aisfx_norm`, each package x class cell weighted equally", lopo_logistic(shipped, y, pk, L2, per_cell=True)


def probe_rows(waves: list[np.ndarray], y: np.ndarray, pk: np.ndarray, split: np.ndarray, sources: np.ndarray, emb: AisfxEmbedder):
    """Other probe families and objectives on the frozen ``aisfx_norm`` embedding."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.svm import SVC

    x = aisfx_direction(block_features(waves, SHIPPED_RMS, emb)["emb"])
    yield "`aisfx_norm`, logistic L2 0.03 (version 13's shipped probe: native framing, all splits)", lopo_logistic(x, y, pk, L2)
    for c in (0.3, 1.0, 3.0):
        svm = SVC(C=c, kernel="rbf", gamma="scale", class_weight="balanced")
        yield f"RBF-SVM, C {c}, gamma 'scale', balanced", lopo_fit(x, y, pk, lambda a, b, e, _: svm.fit(a, b).decision_function(e))
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=[0.5, 0.5])
    yield "shrinkage LDA (Ledoit-Wolf), equal priors", lopo_fit(x, y, pk, lambda a, b, e, _: lda.fit(a, b).decision_function(e))
    for k in (1, 5, 20):
        yield f"nearest neighbours: mean cosine to the {k} nearest footsteps minus the {k} nearest non-footsteps", lopo_fit(x, y, pk, knn_ratio(k))
    for hidden, dropout, decay in ((64, 0.5, 1e-2), (256, 0.5, 1e-1)):
        name = f"MLP 512-{hidden}-1, dropout 0.2/{dropout}, AdamW decay {decay}, stopped on the held-in val AUC"
        yield name, lopo_fit(x, y, pk, mlp(split, hidden, dropout, decay))
    for k in (1, 2):
        yield f"nuisance attribute projection: top {k} direction(s) of the package means within class removed", lopo_fit(x, y, pk, nap(k, pk), standardise=False)
    for k in (5, 20, 50):
        yield f"nuisance attribute projection: top {k} directions of the source-file means within class removed", lopo_fit(x, y, pk, nap(k, sources), standardise=False)
    for beta in (1.0, 10.0):
        yield f"V-REx (variance of the two training packages' risks, beta {beta})", lopo_fit(x, y, pk, risk_objective(pk, beta))
    yield "group DRO (the worse training package's risk)", lopo_fit(x, y, pk, risk_objective(pk, 0.0, worst=True))


def lopo_windows(windows: np.ndarray, y: np.ndarray, pk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) held-out max and mean logit over the J windows (N, J, D) of a probe fitted on every training window."""
    j = windows.shape[1]
    out_max, out_mean = np.full(len(y), np.nan), np.full(len(y), np.nan)
    for _, tr, te in fc.lopo_splits(pk):
        xt, yt = windows[tr].reshape(-1, windows.shape[2]), np.repeat(y[tr], j)
        mean, scale = xt.mean(axis=0), np.maximum(xt.std(axis=0), 1e-6)
        w, b = cat.fit_logistic((xt - mean) / scale, yt, l2=L2, weight=cat.balanced_weights(yt))
        z = ((windows[te] - mean) / scale) @ w + b  # (n, J)
        out_max[te], out_mean[te] = z.max(axis=1), z.mean(axis=1)
    return out_max, out_mean


def framed(spec: torch.Tensor, how: str, frames: int) -> torch.Tensor:
    """(N, frames, M): the (N, K, M) log-mel input centred in digital silence, or tiled, to ``frames`` frames."""
    k = spec.shape[1]
    if how == "tile":
        return spec.repeat(1, -(-frames // k), 1)[:, :frames]
    left = (frames - k) // 2
    return F.pad(spec, (0, 0, left, frames - k - left))


def channel_normalised(spec: torch.Tensor) -> dict[str, torch.Tensor]:
    """(N, K, M) log-mel inputs with a recording chain's colouring taken out: the clip's spectral tilt (a line
    fitted to its mean log-mel over band index), or each band's mean over time (cepstral mean normalisation)."""
    band = torch.arange(spec.shape[2], dtype=torch.float32) - (spec.shape[2] - 1) / 2  # (M,)
    profile = spec.mean(dim=1)  # (N, M)
    slope = (profile * band).sum(dim=1) / (band**2).sum()  # (N,)
    return {"spectral tilt removed": spec - slope[:, None, None] * band,
            "band means removed (CMN), the clip's mean level kept": spec - profile[:, None, :] + profile.mean(dim=1)[:, None, None]}  # fmt: skip


def view_rows(waves: list[np.ndarray], y: np.ndarray, pk: np.ndarray, emb: AisfxEmbedder):
    """Test-time views (time shifts, levels), sub-windows, and the clip framed to aisfx's native block."""
    views = {(SHIPPED_RMS, s): aisfx_direction(block_features([shift(w, s) for w in waves], SHIPPED_RMS, emb)["emb"]) for s in SHIFTS_MS}
    for rms in (0.0316, 0.316):
        views |= {(rms, s): aisfx_direction(block_features([shift(w, s) for w in waves], rms, emb)["emb"]) for s in (-24, -12, 0, 12, 24)}
    clean = [views[SHIPPED_RMS, 0]]
    for ms in (12, 24, 48):
        shifts = (-12, 0, 12) if ms == 12 else (-ms, -ms // 2, 0, ms // 2, ms)
        shifted = [views[SHIPPED_RMS, s] for s in shifts]
        yield f"mean logit over time shifts {list(shifts)} ms (probe on the clips as cut)", lopo_views(clean, shifted, y, pk)
        yield f"mean logit over time shifts {list(shifts)} ms, probe trained on the same shifts", lopo_views(shifted, shifted, y, pk)
    grid = [views[r, s] for r in (0.0316, SHIPPED_RMS, 0.316) for s in (-24, -12, 0, 12, 24)]
    yield "mean logit over 3 levels (-30/-20/-10 dBFS) x 5 shifts (-24 ... 24 ms), probe on the clips as cut", lopo_views(clean, grid, y, pk)
    yield "mean logit over the same 15 views, probe trained on all 15", lopo_views(grid, grid, y, pk)
    normalised = [normalise(w, SHIPPED_RMS) for w in waves]
    starts = range(0, len(waves[0]) - WINDOW_SAMPLES + 1, WINDOW_HOP_SAMPLES)
    windows = np.stack([aisfx_direction(block_features([w[s : s + WINDOW_SAMPLES] for w in normalised], None, emb)["emb"]) for s in starts], axis=1)
    out_max, out_mean = lopo_windows(windows, y, pk)
    yield f"sub-windows of 0.25 s, 0.064 s apart ({len(starts)} per clip, clip level-normalised), probe on windows, max logit", out_max
    yield "same, mean logit", out_mean
    yield "same, mean logit averaged with the whole-clip probe's logit", 0.5 * (out_mean + lopo_logistic(clean[0], y, pk, L2))
    spec = spectrograms(waves, SHIPPED_RMS, emb)
    for how, frames in (("centre", AISFX_BLOCK_FRAMES), ("tile", AISFX_BLOCK_FRAMES), ("centre", 48)):
        b4 = blocks(framed(spec, how, frames), emb)[-1]
        yield f"log-mel input {how}d to {frames} frames (aisfx's block is {AISFX_BLOCK_FRAMES}), aisfx pooling", lopo_logistic(aisfx_direction(aisfx_pool(b4)), y, pk, L2)
        yield "same, last block mean over time and mel", lopo_logistic(b4.mean(dim=(2, 3)).numpy(), y, pk, L2)
    for name, channel_free in channel_normalised(spec).items():
        x = aisfx_direction(aisfx_pool(blocks(channel_free, emb)[-1]))
        yield f"log-mel input with its {name}, aisfx pooling", lopo_logistic(x, y, pk, L2)
        yield "same, concatenated with `aisfx_norm`", lopo_logistic(np.c_[clean[0], x], y, pk, L2)


def centred_rows(waves: list[np.ndarray], y: np.ndarray, pk: np.ndarray, emb: AisfxEmbedder):
    """The clip centred in aisfx's block (the best ``views`` row) at the other levels and penalties: does it hold?"""
    for rms in (0.03, SHIPPED_RMS, 0.3):
        x = aisfx_direction(aisfx_pool(blocks(framed(spectrograms(waves, rms, emb), "centre", AISFX_BLOCK_FRAMES), emb)[-1]))
        for l2 in (0.01, L2, 0.1) if rms == SHIPPED_RMS else (L2,):
            yield f"log-mel input centred to {AISFX_BLOCK_FRAMES} frames, loudest frame at {20 * np.log10(rms):.0f} dBFS, L2 {l2}", lopo_logistic(x, y, pk, l2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", choices=GROUPS, default="probes", help="which rows to measure (see the module docstring)")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="folder for (or holding) the imported corpora")
    args = ap.parse_args()
    torch.set_num_threads(1)
    per_kind = TABLE_PER_KIND if args.group == "table" else fc.SYNTHETIC_PER_KIND
    rows, waves = fc.training_set(args.data, per_kind)
    y, pk = rows["y"].to_numpy(), rows["package"].to_numpy()
    emb = loaded_embedder()
    if args.group == "table":
        measured = table_rows(waves, y, pk, emb)
    elif args.group == "probes":
        measured = probe_rows(waves, y, pk, rows["split"].to_numpy(), (rows["corpus"] + ":" + rows["source"]).to_numpy(), emb)
    elif args.group == "views":
        measured = view_rows(waves, y, pk, emb)
    else:
        measured = centred_rows(waves, y, pk, emb)
    print(f"| variant (logistic, L2 {L2}, {per_kind} synthetic training negatives per kind, unless noted) | pooled LOPO AUC | {' | '.join(fc.PACKAGES)} |")
    print("|---|---|---|---|---|")
    for name, score in measured:
        print(row(name, score, y, pk), flush=True)


if __name__ == "__main__":
    main()
