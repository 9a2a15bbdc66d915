import numpy as np
import pytest
import torch

from benchbox import checkpoint as ck
from benchbox.generators import registry
from tests.benchmark_helpers import load_benchmark

gaps = load_benchmark("gan_gaps")
TOY = {"length": 1024, "latent_dim": 8, "channels": [8, 8, 4], "kernel": 5, "mpd_channels": [4, 4, 8, 8, 8], "msd_channels": [4, 4, 4, 8, 8, 8], "msd_kernel": 15, "msd_groups": 1}


def _direct_inner_runs(row: np.ndarray) -> list[int]:
    on = [i for i, v in enumerate(row) if not v]
    runs, length = [], 0
    for v in row[on[0] : on[-1] + 1] if len(on) > 1 else []:
        if v:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    return runs


def test_inner_runs_counts_only_runs_between_the_first_and_last_on_position():
    row = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1], dtype=bool)  # leading and trailing runs are not gaps
    assert gaps.inner_runs(row) == [3, 1] == _direct_inner_runs(row)
    rng = np.random.default_rng(0)
    for _ in range(50):
        row = rng.random(40) < 0.6
        assert gaps.inner_runs(row) == _direct_inner_runs(row)
    assert gaps.inner_runs(np.ones(5, dtype=bool)) == [] and gaps.inner_runs(np.array([0, 1, 1], dtype=bool)) == []


def _saved_wavegan(tmp_path, bias: float):
    torch.manual_seed(0)
    model = registry.build("wavegan", dict(TOY))
    net = model.generator_ema
    with torch.no_grad():
        net.ups[-1].conv.bias.fill_(bias)
        cut = torch.arange(TOY["channels"][0])[:, None] * net.cfg.base_length + torch.arange(6, 10)  # (C0, 4): fc rows of positions 6-9
        net.fc.weight[cut.flatten()] = 0.0
        net.fc.bias[cut.flatten()] = -10.0  # every channel off there, and so everything after it (zero biases): a gap mid-clip
    payload = {"generator": "wavegan", "generator_config": dict(TOY), "model": model.state_dict(), "step": 7, "best_val": 1.0, "train_config": {}}
    return str(ck.save_checkpoint(tmp_path / f"b{bias}.pt", payload)), model


def test_gap_anatomy_matches_a_direct_reading_of_the_generator(tmp_path):
    path, model = _saved_wavegan(tmp_path, 0.0)
    out = gaps.gap_anatomy(path, n=6, seed=3, gap_samples=8)
    net = model.generator_ema.eval()
    seen = []
    net.ups[-1].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    with torch.no_grad():
        wave = net(torch.randn(6, 8, generator=torch.Generator().manual_seed(3))).numpy()  # (N, T)
    assert out["step"] == 7 and out["channels"] == 4 and out["output_bias"] == 0.0
    assert out["off_share"] == pytest.approx(float((seen[0] == 0).float().mean()), abs=1e-6)
    zero = np.abs(wave) < 0.5 / 32768
    assert out["zero_sample_share"] == pytest.approx(float(zero.mean()), abs=1e-6)
    assert out["clips_with_inner_gap"] == sum(any(r >= 8 for r in _direct_inner_runs(row)) for row in zero)
    lifted = gaps.gap_anatomy(_saved_wavegan(tmp_path, 0.01)[0], n=6, seed=3, gap_samples=8)  # all-off writes tanh(0.01), not 0
    assert out["clips_with_inner_gap"] == 6 and out["inner_all_off_share"] > 0.1
    assert lifted["clips_with_inner_gap"] == 0 and lifted["off_share"] == out["off_share"] and lifted["zero_sample_share"] < out["zero_sample_share"]


def test_gap_anatomy_reads_the_post_conv_with_post_channels_and_the_raw_generator_without_ema(tmp_path):
    """With post_channels the output conv is `post` (its input at the output rate), and with
    ema_decay = 0 the sampler's generator is the raw one, whose weights need gradients."""
    cfg = {**TOY, "upsample": "sinc", "post_channels": 3, "ema_decay": 0.0}
    torch.manual_seed(0)
    model = registry.build("wavegan", dict(cfg))
    path = str(ck.save_checkpoint(tmp_path / "post.pt", {"generator": "wavegan", "generator_config": cfg, "model": model.state_dict(), "step": 1, "best_val": 1.0, "train_config": {}}))
    out = gaps.gap_anatomy(path, n=2, seed=0)
    assert out["channels"] == 3 and out["output_bias"] == float(model.generator.post.bias.detach()[0])
