"""diffwave at a tiny size, both backbones: shapes, priming, seeding, non-causality, the
paper's receptive field and sizes, and the SSM learning-rate group."""

from __future__ import annotations

import pytest
import torch

from benchbox.audio import encode
from benchbox.generators.base import Batch
from benchbox.generators.diffwave import DiffWave, DiffWaveConfig

TINY = {
    "wavenet": {"channels": 8, "skip_channels": 8, "layers": 4, "dilation_cycle": 4, "embed_in": 16, "embed_mid": 16, "embed_out": 16},
    "sashimi": {"backbone": "sashimi", "d_model": 8, "n_layers": 1, "d_state": 4, "pool": (2, 2), "embed_in": 16, "embed_mid": 16, "embed_out": 16},
}
SAMPLER = {"steps": 10, "sampling_steps": 3}


@pytest.fixture(params=sorted(TINY))
def model(request):
    torch.manual_seed(0)
    return DiffWave(DiffWaveConfig(**TINY[request.param], **SAMPLER))


def test_loss_is_finite_with_gradients(model):
    waves = torch.randn(2, 256, generator=torch.Generator().manual_seed(1)) * 0.1
    torch.manual_seed(0)
    loss, metrics = model.loss(Batch(waves, encode(waves, "linear")))
    loss.backward()
    assert torch.isfinite(loss) and metrics["mse_x0"] > 0
    unused = {n for n, _ in model.net.named_parameters() if ".layers.3.res." in n}  # the last layer's residual output is unused (as in the paper)
    assert all(p.grad is not None for n, p in model.net.named_parameters() if n not in unused)


def test_generate_shape_seed_prime(model):
    rng = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    out = model.generate(2, 250, rng=rng())  # 250: padded to the pools inside, cut back
    assert out.shape == (2, 250) and out.abs().max() <= 1.0
    assert torch.equal(out, model.generate(2, 250, rng=rng()))
    prime = (torch.randn(2, 37, generator=torch.Generator().manual_seed(3)) * 0.3).clamp(-1, 1)
    assert torch.equal(model.generate(2, 250, prime=prime, rng=rng())[:, :37], prime)


def test_backbone_is_non_causal(model):
    """A denoiser sees both sides: changing sample 12 changes outputs 0..7."""
    for p in model.net.parameters():  # the zero-initialised output layer would hide everything
        torch.nn.init.normal_(p, std=0.2) if p.dim() > 1 else None
    z = torch.randn(1, 1, 64)
    t = torch.full((1,), 0.5)
    z2 = z.clone()
    z2[..., 12] += 1.0
    assert not torch.allclose(model.net(z, t)[..., :8], model.net(z2, t)[..., :8])


def test_paper_receptive_field():
    model = DiffWave(DiffWaveConfig(channels=4, skip_channels=4, layers=30, dilation_cycle=10))
    assert model.net.backbone.receptive_field == 1 + 2 * 3 * 1023  # 3 cycles of 1 .. 512


def test_ssm_parameters_get_their_own_group():
    model = DiffWave(DiffWaveConfig(**TINY["sashimi"], lr_ssm=1e-4))
    groups = model.param_groups(1e-3, 0.01)
    assert groups[-1]["lr"] == 1e-4 and groups[-1]["weight_decay"] == 0.0
    counted = sum(p.numel() for g in groups for p in g["params"])
    assert counted == model.num_parameters()
