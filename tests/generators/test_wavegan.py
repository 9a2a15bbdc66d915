"""WaveGAN + HiFi-GAN discriminators: shapes, two training steps, seeding, the folded period
discriminator against HiFi-GAN's 2-D form, phase shuffle and augmentation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benchbox.errors import GeneratorError
from benchbox.generators import wavegan_disc as D
from benchbox.generators.base import Batch, StepContext
from benchbox.generators.wavegan import WaveGAN, WaveGANConfig

T = 1024  # 5 upsampling layers from L0 = 1
TOY = dict(
    length=T, latent_dim=8, channels=(16, 8, 8, 4, 4), mpd_channels=(4, 4, 8, 8, 8),
    msd_channels=(4, 4, 4, 8, 8, 8), msd_kernel=15, msd_groups=1, lr_g=1e-3, lr_d=1e-3,
)  # fmt: skip


def _model(seed: int = 0, **over) -> WaveGAN:
    torch.manual_seed(seed)
    return WaveGAN(WaveGANConfig(**{**TOY, **over}))


def _toy_clips(n: int = 4) -> torch.Tensor:  # (n, T): decaying noise bursts
    g = torch.Generator().manual_seed(0)
    env = torch.exp(-torch.arange(T) / 100.0)
    return (0.5 * torch.randn(n, T, generator=g) * env).clamp(-1, 1)


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


@pytest.mark.parametrize("over", [{}, {"augment_p": 0.9, "augment_target": 0.6, "augment_kimg": 0.01, "r1_gamma": 1.0, "r1_every": 1, "upsample": "nearest", "stats_weight": 0.1},
                                  {"upsample": "sinc", "kernel": 5, "post_channels": 4, "post_noise": 0.5},
                                  {"upsample": "sinc", "kernel": 5, "post_channels": 4, "post_noise": 0.5, "post_noise_mode": "mul"}, {"upsample": "linear", "kernel": 5},
                                  {"upsample": "sinc", "last_upsample": "nearest", "kernel": 5}, {"mrd_ffts": (64, 256), "mrd_channels": 4, "minibatch_std": True},
                                  {"discriminator": "wavegan", "loss": "wgan-gp", "wavegan_channels": (4, 8, 8, 8, 8), "d_steps": 2}])
def test_two_steps_change_both_networks_with_finite_losses(over):
    model = _model(**over)
    opts = model.make_optimizers()
    g0, d0, e0 = _flat(model.generator), _flat(model.discriminator), _flat(model.generator_ema)
    m0 = _flat(model.discriminator.mrd) if over.get("mrd_ffts") else None
    for _ in range(2):
        metrics = model.train_step(Batch(waves=_toy_clips(), codes=torch.zeros(4, T, dtype=torch.long)), opts, StepContext(step=0, device=torch.device("cpu"), grad_clip=1.0))
        assert all(torch.isfinite(torch.as_tensor(v)) for v in metrics.values()), metrics
        assert {"loss", "gan/d_loss", "gan/g_loss"} <= metrics.keys()
    assert not torch.equal(g0, _flat(model.generator))
    assert not torch.equal(d0, _flat(model.discriminator))
    assert not torch.equal(e0, _flat(model.generator_ema))
    assert all(p.requires_grad for p in model.discriminator.parameters())  # unfrozen after the G step
    if over.get("mrd_ffts"):  # the spectrogram discriminators train too, not only MPD and MSD
        assert not torch.equal(m0, _flat(model.discriminator.mrd))


def test_shapes_and_range():
    model = _model()
    clips = model.generate(3, T, rng=torch.Generator().manual_seed(0))
    assert clips.shape == (3, T) and clips.dtype == torch.float32
    assert clips.abs().max() <= 1.0
    assert model.generate(2, 100, rng=torch.Generator().manual_seed(0)).shape == (2, 100)
    scores, maps = model.discriminator(clips.unsqueeze(1))
    assert len(scores) == 5 + 3  # 5 periods + 3 scales
    assert all(s.shape[0] == 3 and s.dim() == 2 for s in scores)
    loss, metrics = model.loss({"waves": _toy_clips(3)})
    assert torch.isfinite(loss) and {"gan/spectrum_db", "gan/envelope_db", "gan/d_real"} <= metrics.keys()
    # shorter clips are zero-padded to T, longer ones cut
    assert torch.isfinite(model.loss({"waves": _toy_clips(2)[:, :300]})[0])


def test_eval_loss_is_zero_for_identical_spectra_and_grows_with_level():
    from benchbox.generators.wavegan import spectral_stats

    x = 0.5 * torch.randn(4, T, generator=torch.Generator().manual_seed(0))  # well above the -100 dB floor
    shape, env = spectral_stats(x)
    shape2, env2 = spectral_stats(x * 0.1)  # -20 dB
    assert torch.allclose(shape2 - shape, torch.full_like(shape, -20.0), atol=0.5)
    assert shape.shape == (257,) and env.shape == (T // 128 + 1,)


def test_generate_is_seeded_and_raw_weights_seeded_by_build():
    a, b, c = _model(seed=1), _model(seed=1), _model(seed=2)
    rng = lambda s: torch.Generator().manual_seed(s)  # noqa: E731
    assert torch.equal(a.generate(4, T, rng=rng(7)), b.generate(4, T, rng=rng(7)))
    assert not torch.equal(a.generate(4, T, rng=rng(7)), a.generate(4, T, rng=rng(8)))
    assert not torch.equal(a.generate(4, T, rng=rng(7)), c.generate(4, T, rng=rng(7)))
    # batching does not change the clips
    assert torch.allclose(a.generate(4, T, rng=rng(7), batch=1), a.generate(4, T, rng=rng(7)), atol=1e-6)


def test_prime_is_refused_and_capabilities_are_empty():
    model = _model()
    assert "prime" not in model.capabilities and "likelihood" not in model.capabilities
    with pytest.raises(GeneratorError, match="prime"):
        model.generate(1, T, prime=torch.zeros(1, 16), rng=torch.Generator().manual_seed(0))
    assert model.generate(1, T, prime=torch.zeros(1, 0), rng=torch.Generator().manual_seed(0)).shape == (1, T)
    with pytest.raises(GeneratorError):
        model.generate(1, T + 1, rng=torch.Generator().manual_seed(0))


def test_conditional_needs_labels_and_uses_them():
    model = _model(n_classes=3)
    opts = model.make_optimizers()
    out = model.train_step({"waves": _toy_clips(), "labels": torch.tensor([0, 1, 2, 0])}, opts)
    assert torch.isfinite(out["loss"])
    with pytest.raises(GeneratorError, match="label"):
        model.train_step({"waves": _toy_clips(), "labels": torch.tensor([0, 1, -1, 0])}, opts)
    rng = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = model.generate(2, T, rng=rng(), labels=torch.tensor([0, 0]))
    b = model.generate(2, T, rng=rng(), labels=torch.tensor([1, 1]))
    assert not torch.equal(a, b)
    assert model.generate(3, T, rng=rng()).shape == (3, T)  # no labels: drawn uniformly from rng


def test_period_discriminator_equals_hifigan_2d_form():
    """The folded 1-D convs compute HiFi-GAN's (k, 1) 2-D convs over (T/p, p)."""
    torch.manual_seed(0)
    disc = D.PeriodDiscriminator(3, (4, 6, 6), in_channels=1, norm="none")
    x = torch.randn(2, 1, 200, dtype=torch.float64)
    disc = disc.double()
    score, maps = disc(x)
    h = F.pad(x, (0, 1), mode="reflect").view(2, 1, 67, 3)  # (B, C, T/p, p)
    for conv in disc.convs:
        w = conv.weight.unsqueeze(-1)  # (C_out, C_in, k, 1)
        h = F.leaky_relu(F.conv2d(h, w, conv.bias, stride=(conv.stride[0], 1), padding=(conv.padding[0], 0)), D.LRELU_SLOPE)
    h = F.conv2d(h, disc.post.weight.unsqueeze(-1), disc.post.bias, padding=(1, 0))  # (B, 1, T'', p)
    ref = h.permute(0, 3, 1, 2).reshape(2, -1)  # phases first, as the folded form flattens
    torch.testing.assert_close(score, ref)


def test_phase_shuffle_shifts_by_at_most_radius():
    x = torch.arange(20.0).view(1, 1, 20).repeat(8, 2, 1)  # (B, C, T)
    torch.manual_seed(0)
    y = D.phase_shuffle(x, 2)
    assert y.shape == x.shape
    assert torch.equal(D.phase_shuffle(x, 0), x)
    shifts = (x[:, 0, 10] - y[:, 0, 10]).tolist()  # interior sample: content moved by n
    assert all(s in (-2, -1, 0, 1, 2) for s in shifts)
    assert torch.equal(y[:, 0], y[:, 1])  # every channel of a clip moves alike


def test_stats_term_charges_a_noise_tail_where_real_clips_are_silent():
    from benchbox.generators.wavegan import spec_db

    real = _toy_clips()
    real[:, T // 2 :] = 0.0  # digital silence after the step, as the dev clips end
    fake = (real + 1e-3 * torch.randn(real.shape, generator=torch.Generator().manual_seed(1)) * (torch.arange(T) >= T // 2)).requires_grad_(True)
    assert all(float(d) == 0.0 for d in spec_db(real, real))
    shape_db, env_db = spec_db(fake, real)
    assert float(env_db.detach()) > 10.0  # a -60 dB tail against -100 dB silence, over about half the frames
    (shape_db + env_db).backward()
    assert fake.grad[:, T // 2 + 256 :].abs().sum() > 0  # the tail is pushed, not only the step
    with torch.no_grad():
        assert sum(spec_db(fake - 1e-4 * fake.grad.sign() * (fake.grad.abs() > 0), real)) < shape_db + env_db


@pytest.mark.parametrize("bad", [{"length": 1000}, {"discriminator": "hifigan", "loss": "wgan-gp"}, {"augment_p": 2.0}, {"msd_channels": (4, 4)}, {"stats_weight": -1.0}, {"augment_target": 1.0}, {"augment_kimg": 0.0}, {"fm_paired_steps": -1},
                                 {"upsample": "sinc", "kernel": 4}, {"post_channels": -1}, {"upsample": "transposed", "last_upsample": "nearest", "kernel": 24},
                                 {"post_noise": 0.5}, {"relu_slope": -0.1}, {"relu_slope": 1.0},
                                 {"mrd_ffts": (64,), "n_classes": 3}, {"mrd_ffts": (8,)}, {"mrd_ffts": (64,), "mrd_channels": 0}, {"mrd_ffts": (2 * T,)}])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError, match="mrd_ffts" if "mrd_ffts" in bad else None):
        WaveGANConfig(**{**TOY, **bad})


def test_feature_matching_on_batch_means_ignores_pairing():
    """Batch-mean matching is 0 for the same clips in another order; per-clip (paired) L1 is not."""
    torch.manual_seed(0)
    maps = [torch.randn(4, 3, 10), torch.randn(8, 2, 5)]  # (B, C, L) and an MPD-style (B p, C, L), p = 2
    order = torch.tensor([2, 0, 3, 1])
    shuffled = [maps[0][order], maps[1].view(4, 2, 2, 5)[order].reshape(8, 2, 5)]
    assert D.feature_matching_loss(maps, shuffled, batch=4) < 1e-6
    assert D.feature_matching_loss(maps, shuffled, batch=4, paired=True) > 0.1


@pytest.mark.parametrize("mode", ["add", "mul"])
def test_sinc_generator_keeps_its_fixed_filter_out_of_the_weights_and_seeds_its_noise(mode):
    """The filter is a non-persistent buffer: not a parameter, not in the checkpoint. The
    output-rate noise input comes from the sampler's rng: the same seed gives the same clips
    whatever the batching, another seed others; the noise scales are learned (get gradients)."""
    model = _model(upsample="sinc", kernel=5, post_channels=4, post_noise=0.5, post_noise_mode=mode)
    assert not any("lowpass" in k for k in model.state_dict())
    assert not any("lowpass" in k for k, _ in model.named_parameters())
    rng = lambda s: torch.Generator().manual_seed(s)  # noqa: E731
    clips = model.generate(3, T, rng=rng(0), batch=2)
    assert clips.shape == (3, T) and torch.isfinite(clips).all()
    assert torch.allclose(clips, model.generate(3, T, rng=rng(0), batch=3), atol=1e-5)
    assert not torch.allclose(clips, model.generate(3, T, rng=rng(1)), atol=1e-3)
    model.generator(torch.randn(2, TOY["latent_dim"])).square().mean().backward()
    assert model.generator.noise_scale.grad is not None and model.generator.noise_scale.grad.abs().sum() > 0


def test_multiplicative_noise_keeps_silence_silent():
    """post_noise_mode = "mul": where every output-rate channel is off, the noise adds nothing
    (digital silence stays exact); "add" puts noise there."""
    from benchbox.generators.wavegan_gen import WaveGANGenerator

    x = torch.cat([-torch.ones(1, 4, 50), torch.ones(1, 4, 50)], dim=-1)  # (1, P, 100): off, then on
    noise = torch.randn(1, 4, 100, generator=torch.Generator().manual_seed(0))
    for mode, silent in (("mul", True), ("add", False)):
        gen = WaveGANGenerator(WaveGANConfig(**{**TOY, "upsample": "sinc", "kernel": 5, "post_channels": 4, "post_noise": 2.0, "post_noise_mode": mode}))
        y = gen._noisy_relu(x, noise)  # (1, P, 100)
        assert (y[..., :50] == 0).all() == silent
        assert y[..., 50:].std() > 0.5


def test_leaky_generator_passes_negative_activations_where_relu_zeroes_them():
    relu, leaky = _model(seed=3), _model(seed=3, relu_slope=0.2)  # the same weights
    x = torch.linspace(-1.0, 1.0, 9).view(1, 1, 9)
    assert torch.equal(relu.generator._act(x), x.clamp(min=0))
    assert torch.allclose(leaky.generator._act(x), torch.where(x > 0, x, 0.2 * x))
    z = torch.randn(2, TOY["latent_dim"], generator=torch.Generator().manual_seed(0))
    relu.generator.eval(), leaky.generator.eval()
    with torch.no_grad():
        a, b = relu.generator(z), leaky.generator(z)
    assert a.shape == b.shape == (2, T) and not torch.allclose(a, b)


def test_last_relu_slope_leaks_only_the_layer_the_output_conv_reads():
    z = torch.randn(4, TOY["latent_dim"], generator=torch.Generator().manual_seed(0))
    seen = {}
    for name, over in (("relu", {}), ("last", {"last_relu_slope": 0.2}), ("all", {"relu_slope": 0.2})):
        gen = _model(seed=3, **over).generator.eval()
        inputs = []  # what each upsampling layer reads: (B, C_i, L_i)
        hooks = [up.register_forward_pre_hook(lambda m, a: inputs.append(a[0].detach())) for up in gen.ups]
        with torch.no_grad():
            seen[name] = (gen(z), inputs)
        for h in hooks:
            h.remove()
    out_relu, in_relu = seen["relu"]
    out_last, in_last = seen["last"]
    assert all(x.min() >= 0 for x in in_relu[1:]) and in_last[-1].min() < 0  # only the last hidden layer goes negative
    assert all(x.min() >= 0 for x in in_last[1:-1]) and in_last[-1].shape[1] == TOY["channels"][-1]
    assert all(torch.equal(a, b) for a, b in zip(in_relu[:-1], in_last[:-1]))  # the same weights: earlier layers unchanged
    assert not torch.allclose(out_relu, out_last) and not torch.allclose(out_last, seen["all"][0])
    last_bn = []  # the last hidden layer before its activation, (B, C, L): the output conv reads leaky_relu(., 0.2) of it
    gen = _model(seed=3, relu_slope=0.1, last_relu_slope=0.2).generator.eval()
    gen.bns[-1].register_forward_hook(lambda m, a, out: last_bn.append(out.detach()))
    gen.ups[-1].register_forward_pre_hook(lambda m, a: last_bn.append(a[0].detach()))
    with torch.no_grad():
        gen(z)
    assert torch.allclose(last_bn[1], torch.nn.functional.leaky_relu(last_bn[0], 0.2)) and last_bn[0].min() < 0
    for bad in ({"last_relu_slope": 1.0}, {"last_relu_slope": -0.1}, {"last_relu_slope": 0.2, "channels": (8,)},
                {"last_relu_slope": 0.2, "upsample": "sinc", "kernel": 5, "post_channels": 4, "post_noise": 0.5}):
        with pytest.raises(ValueError, match="last_relu_slope"):
            WaveGANConfig(**{**TOY, **bad})


def test_spectrogram_discriminator_reads_the_compressed_stft_at_each_resolution():
    torch.manual_seed(0)
    disc = D.MultiResolutionSpectrogramDiscriminator((64, 256), channels=4, mbstd=True)
    x = (0.1 * torch.randn(3, 1, T)).requires_grad_(True)
    scores, maps = disc(x)
    assert len(scores) == 2 and all(s.shape[0] == 3 and torch.isfinite(s).all() for s in scores)
    assert maps[0].shape == (3, 4, 64 // 2 + 1, T // 16 + 1)  # (B, C, F, N): first conv keeps the STFT grid (hop n_fft / 4)
    assert len(maps) == 12 and maps[6].shape[2] == 256 // 2 + 1  # 5 convs + post per resolution
    assert [m.shape[2:] for m in maps[:6]] == [(33, 65), (17, 33), (9, 17), (5, 9), (5, 9), (5, 9)]  # (F, N): the middle convs stride (2, 2)
    sum(s.sum() for s in scores).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the generator gets a gradient through the STFT
    # the input is log(1 + 100 |STFT|): compare the first conv's input with a direct computation
    sub = disc.discs[0]
    spec = torch.stft(x.detach()[:, 0], 64, 16, window=torch.hann_window(64), center=True, return_complex=True)
    expected = torch.log1p(D.MRD_GAIN * spec.abs()).unsqueeze(1)
    conv = sub.convs[0]
    assert torch.allclose(F.leaky_relu(conv(expected), D.LRELU_SLOPE), maps[0].detach(), atol=1e-5)


def test_hifigan_discriminator_adds_the_spectrogram_scores_only_when_asked():
    kw = dict(periods=(2, 3), mpd_channels=(4, 4, 8, 8, 8), n_scales=2, msd_channels=(4, 4, 4, 8, 8, 8), length=T, msd_kernel=15, msd_groups=1)
    x = 0.1 * torch.randn(2, 1, T)
    plain, _ = D.HiFiGANDiscriminator(**kw)(x)
    with_mrd, _ = D.HiFiGANDiscriminator(**kw, mrd_ffts=(64, 128, 256), mrd_channels=4)(x)
    assert len(plain) == 4 and len(with_mrd) == 7


def test_paired_feature_matching_hands_over_to_batch_means_after_fm_paired_steps(monkeypatch):
    calls = []
    real_fm = D.feature_matching_loss
    monkeypatch.setattr(D, "feature_matching_loss", lambda r, f, b, paired=False: calls.append(paired) or real_fm(r, f, b, paired))
    model = _model(fm_paired=True, fm_paired_steps=2)
    opts = model.make_optimizers()
    for _ in range(4):
        model.train_step(Batch(waves=_toy_clips(), codes=torch.zeros(4, T, dtype=torch.long)), opts)
    assert calls == [True, True, False, False]
    calls.clear()
    model = _model(fm_paired=True)  # 0: paired throughout
    opts = model.make_optimizers()
    for _ in range(3):
        model.train_step(Batch(waves=_toy_clips(), codes=torch.zeros(4, T, dtype=torch.long)), opts)
    assert calls == [True, True, True]

