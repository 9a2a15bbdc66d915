"""The WaveGAN generator network's upsampling: ICNR initialisation, image rejection of nearest,
linear and sinc upsampling, and the sinc upsampler against a direct zero-stuff-and-filter."""

from __future__ import annotations

import numpy as np
import torch

from benchbox.generators.wavegan_gen import Upsample, icnr_, kaiser_lowpass, sinc_upsample


def test_icnr_upsampling_maps_a_constant_to_a_constant():
    """No fs/4 checkerboard at initialisation: every output phase has the same taps."""
    torch.manual_seed(0)
    up = Upsample(3, 2, "transposed", 24)
    icnr_(up.conv.weight)
    y = up(torch.ones(1, 3, 16))[..., 24:-24]  # away from the zero-padded edges
    assert torch.allclose(y, y[..., :1].expand_as(y), atol=1e-6)


def _image_rejection_db(mode: str, f0: float = 0.05, n: int = 1024) -> tuple[float, float]:
    """(passband gain, worst image) in dB of the fixed part of an x4 upsampler fed a sinusoid of
    f0 cycles per input sample, from Hann-windowed FFTs of its input and output: the gain is the
    output's power at f0 / 4 cycles per output sample over 16 x the input's at f0 (a 4 times
    longer window); the images are at k / 4 +- f0 / 4 (k = 1, 2), relative to the output's tone."""
    x = torch.sin(2 * torch.pi * f0 * torch.arange(n, dtype=torch.float64)).float().view(1, 1, n)  # (1, 1, L)
    y = Upsample(1, 1, mode, 5).resample(x)[0, 0].double().numpy()  # (4 L,)
    power_in = np.abs(np.fft.rfft(x[0, 0].double().numpy() * np.hanning(n))) ** 2
    power_out = np.abs(np.fft.rfft(y * np.hanning(4 * n))) ** 2
    f_in, f_out = np.fft.rfftfreq(n), np.fft.rfftfreq(4 * n)
    band = lambda power, f, centre, width: power[np.abs(f - centre) < width].sum()  # noqa: E731
    tone = band(power_out, f_out, f0 / 4, 0.003)
    gain_db = 10 * np.log10(tone / (16 * band(power_in, f_in, f0, 0.012)))
    images = [band(power_out, f_out, k / 4 + s * f0 / 4, 0.003) for k in (1, 2) for s in (-1, 1)]
    return float(gain_db), float(10 * np.log10(max(images) / tone))


def test_sinc_upsampling_removes_the_images_that_nearest_leaves():
    """A slow sinusoid through the fixed x4 upsampler: unit passband gain for every mode, images
    mirrored about the lower rate and twice it >= 60 dB down for the Kaiser sinc (designed 60
    dB), while nearest's box leaves them only about 25 dB down (the 4 kHz lines of issue 27)."""
    for mode in ("nearest", "linear", "sinc"):
        gain_db, _ = _image_rejection_db(mode)
        assert abs(gain_db) < 0.2, (mode, gain_db)
    assert _image_rejection_db("sinc")[1] < -60
    assert _image_rejection_db("linear")[1] < -45
    assert _image_rejection_db("nearest")[1] > -30


def test_sinc_upsample_is_zero_stuffing_then_the_kaiser_filter():
    """The grouped transposed conv equals the textbook form: zero-stuff x4, full convolution
    with the filter, keep the 4 L samples centred on the inputs; the filter is symmetric with
    DC gain 4 and response -6 dB at the lower rate's Nyquist."""
    h = kaiser_lowpass()  # (49,)
    x = torch.randn(2, 3, 20, generator=torch.Generator().manual_seed(0))  # (B, C, L)
    stuffed = torch.zeros(2, 3, 80)
    stuffed[..., ::4] = x
    half = h.numel() // 2
    ref = np.stack([[np.convolve(stuffed[b, c].numpy(), h.numpy())[half : half + 80] for c in range(3)] for b in range(2)])
    assert torch.allclose(sinc_upsample(x, h), torch.from_numpy(ref).float(), atol=1e-5)
    assert torch.allclose(h, h.flip(0)) and abs(float(h.sum()) - 4.0) < 1e-5
    response = np.abs(np.fft.rfft(h.double().numpy(), 4096)) / 4  # (2049,): cycles per output sample k / 4096
    assert abs(20 * np.log10(response[512]) + 6.0) < 0.5  # 1/8 cycle per output sample = the lower rate's Nyquist
