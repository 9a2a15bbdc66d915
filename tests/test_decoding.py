"""benchbox.decoding: files libsndfile misreads, built from bytes at test time, decode in full."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from benchbox import decoding
from benchbox.audio import read_audio
from benchbox.errors import AudioError

RATE_HZ = 16_000
SECONDS = 1.0


def tone(seconds: float = SECONDS, rate_hz: int = RATE_HZ, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)  # (T,)


def encoded(wave: np.ndarray, rate_hz: int = RATE_HZ, **kw) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, rate_hz, **kw)
    return buf.getvalue()


def wav_with_sizes(riff: int, data: int) -> bytes:
    """A 16-bit WAV of :func:`tone` whose RIFF and data size fields say ``riff`` and ``data``."""
    b = bytearray(encoded(tone(), format="WAV", subtype="PCM_16"))
    at = b.index(b"data")
    b[4:8], b[at + 4 : at + 8] = struct.pack("<I", riff), struct.pack("<I", data)
    return bytes(b)


def flac_with_total(total: int) -> bytes:
    b = bytearray(encoded(tone(), format="FLAC"))
    start = 8 + 10  # "fLaC", block header, 10 bytes of block sizes and frame sizes
    packed = int.from_bytes(b[start : start + 8], "big")
    b[start : start + 8] = ((packed & ~((1 << 36) - 1)) | total).to_bytes(8, "big")
    return bytes(b)


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


CRC = _crc_table()


def ogg_pages(b: bytes) -> list[tuple[int, int]]:
    pages, i = [], 0
    while i < len(b):
        n = b[i + 26]
        size = 27 + n + sum(b[i + 27 : i + 27 + n])
        pages.append((i, size))
        i += size
    return pages


def ogg_last_page_unended(b: bytes, granule: int) -> bytes:
    """The Ogg ``b`` with its last page's end-of-stream flag cleared and its granule set, CRC redone."""
    b = bytearray(b)
    at, size = ogg_pages(b)[-1]
    b[at + 5] &= ~decoding.OGG_EOS
    b[at + 6 : at + 14] = struct.pack("<Q", granule)
    b[at + 22 : at + 26] = b"\0\0\0\0"
    crc = 0
    for x in b[at : at + size]:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ CRC[((crc >> 24) & 0xFF) ^ x]
    b[at + 22 : at + 26] = struct.pack("<I", crc)
    return bytes(b)


@pytest.mark.parametrize("riff,data", [(0, 0), (0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0), (0, 0xFFFFFFFF)])
def test_wav_with_zero_or_unknown_sizes_reads_every_sample(tmp_path, riff, data):
    path = tmp_path / "streamed.wav"
    path.write_bytes(wav_with_sizes(riff, data))  # (0, 0) was "no audio frames": the audio was lost
    got, rate = read_audio(path)
    assert rate == RATE_HZ and got.shape == (RATE_HZ, 1)
    np.testing.assert_allclose(got[:, 0], tone(), atol=1e-4)


def test_flac_with_total_samples_zero_reads_every_sample(tmp_path):
    path = tmp_path / "unknown_length.flac"
    path.write_bytes(flac_with_total(0))  # soundfile: 9.2e18 frames, refused as a lying header
    decoded = decoding.decode_audio(path)
    assert decoded.decoder == "pyav" and "no length" in decoded.notes[0]
    np.testing.assert_allclose(decoded.data[:, 0], tone(), atol=1e-4)


def test_flac_whose_total_lies_is_still_refused(tmp_path):
    path = tmp_path / "lie.flac"
    path.write_bytes(flac_with_total((1 << 36) - 1))
    with pytest.raises(AudioError, match="frames field lies"):
        read_audio(path)


@pytest.mark.parametrize("granule", [0xFFFFFFFFFFFFFFFF, 0])
@pytest.mark.parametrize("seconds", [1.0, 3.0])
def test_ogg_whose_last_page_lacks_end_of_stream_reads_every_sample(tmp_path, granule, seconds):
    wave = (0.3 * np.random.default_rng(0).standard_normal(int(seconds * RATE_HZ))).astype(np.float32)
    path = tmp_path / "unended.ogg"
    path.write_bytes(ogg_last_page_unended(encoded(wave, format="OGG", subtype="VORBIS"), granule))
    links, ended = decoding.ogg_links(path.read_bytes())
    assert len(links) == 1 and not ended
    got, _ = read_audio(path)  # was: an error, "no audio frames", or the last page lost
    assert len(wave) <= got.shape[0] <= len(wave) + 1024  # every sample (PyAV keeps the encoder's end padding)


def test_chained_ogg_reads_every_stream_and_says_so(tmp_path):
    first, second = tone(1.0), tone(0.5, hz=220.0)
    path = tmp_path / "chained.ogg"
    path.write_bytes(encoded(first, format="OGG") + encoded(second, format="OGG"))
    decoded = decoding.decode_audio(path)  # was: the first stream only, without a word
    assert decoded.data.shape == (len(first) + len(second), 1)
    assert decoded.notes and "2 chained Ogg streams" in decoded.notes[0]


def test_chained_ogg_streams_of_different_rates_and_channels_are_joined(tmp_path):
    stereo = np.stack([tone(0.5, 22_050), tone(0.5, 22_050)], axis=1)  # (T, 2)
    path = tmp_path / "chained.ogg"
    path.write_bytes(encoded(tone(1.0), format="OGG") + encoded(stereo, 22_050, format="OGG"))
    decoded = decoding.decode_audio(path)
    assert decoded.rate_hz == RATE_HZ and decoded.data.shape[1] == 1
    assert decoded.data.shape[0] == pytest.approx(RATE_HZ * 1.5, abs=2)
    assert any("downmixed" in n for n in decoded.notes)


@pytest.mark.parametrize("suffix,kw,rate", [(".mp3", {"format": "MP3"}, RATE_HZ), (".opus", {"format": "OGG", "subtype": "OPUS"}, 48_000)])
def test_mp3_and_opus(tmp_path, suffix, kw, rate):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(encoded(tone(1.0, rate), rate, **kw))
    got, got_rate = read_audio(path)
    assert got_rate == rate and got.shape[0] == pytest.approx(rate, rel=0.1)


def test_m4a_aac_decodes_with_pyav(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "x.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=RATE_HZ, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone()[None, :], format="flt", layout="mono")
        frame.sample_rate = RATE_HZ
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    decoded = decoding.decode_audio(path)  # soundfile cannot open mp4 at all
    assert decoded.decoder == "pyav" and decoded.rate_hz == RATE_HZ
    assert decoded.data.shape[0] == pytest.approx(RATE_HZ, rel=0.15)


def _wav_with_fmt(path, **fields):
    """A 16-bit tone WAV at ``path`` whose fmt chunk's ``channels`` (bytes 22-24) and/or
    ``rate_hz`` (bytes 24-28) fields are overwritten with the given values."""
    b = bytearray(encoded(tone(), format="WAV", subtype="PCM_16"))
    if "channels" in fields:
        b[22:24] = struct.pack("<H", fields["channels"])
    if "rate_hz" in fields:
        b[24:28] = struct.pack("<I", fields["rate_hz"])
    path.write_bytes(bytes(b))
    return path


def test_hostile_header_checks_hold_for_the_pyav_path(tmp_path, monkeypatch):
    def untrusted(source, path):
        raise decoding._Untrusted("soundfile: forced off")

    monkeypatch.setattr(decoding, "read_soundfile", untrusted)
    with pytest.raises(AudioError, match="sample rate field says 3 Hz"):
        read_audio(_wav_with_fmt(tmp_path / "rate_3hz.wav", rate_hz=3))


def test_a_zero_sample_rate_wav_is_refused_with_the_field_named(tmp_path):
    """libsndfile refuses it as 'SF_INFO struct incomplete'; the fmt chunk is read first, so the error names the field."""
    with pytest.raises(AudioError, match="sample rate field says 0 Hz"):
        read_audio(_wav_with_fmt(tmp_path / "rate_0hz.wav", rate_hz=0))
    with pytest.raises(AudioError, match="channel count field says 0"):
        read_audio(_wav_with_fmt(tmp_path / "channels_0.wav", channels=0))


def test_undecodable_file_names_both_decoders(tmp_path):
    path = tmp_path / "text.wav"
    path.write_bytes(b"this is a text file with a .wav name\n" * 10)
    with pytest.raises(AudioError, match="cannot decode audio") as info:
        read_audio(path)
    assert "soundfile:" in info.value.message and "PyAV:" in info.value.message


def test_multiplexed_ogg_streams_are_reported_not_dropped_in_silence(tmp_path):
    a, b = encoded(tone(1.0), format="OGG"), encoded(tone(0.5, hz=220.0), format="OGG")
    pa, pb = ([x[i : i + n] for i, n in ogg_pages(x)] for x in (a, b))
    path = tmp_path / "grouped.ogg"
    path.write_bytes(pa[0] + pb[0] + b"".join(pa[1:]) + b"".join(pb[1:]))  # both streams begin before either's data
    decoded = decoding.decode_audio(path)  # was: the first stream, without a word
    assert decoded.data.shape[0] == RATE_HZ and any("multiplexes 2 logical Ogg streams" in n for n in decoded.notes)


def _u8_wav(codes: np.ndarray, streamed: bool = False) -> bytes:
    """A mono unsigned 8-bit WAV holding ``codes`` (128 = silence); ``streamed``: RIFF and data sizes 0 (PyAV decodes it)."""
    data = np.asarray(codes, dtype=np.uint8).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, RATE_HZ, RATE_HZ, 1, 8)  # PCM, mono, rate, bytes/s, block align, bits
    riff, size = (0, 0) if streamed else (4 + 8 + len(fmt) + 8 + len(data), len(data))
    return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data


@pytest.mark.parametrize("streamed", [False, True])
def test_an_8_bit_wav_decodes_without_an_offset(tmp_path, streamed):
    """Code 128 is 0.0 exactly (the range is [-1, 127/128]) through soundfile and PyAV alike, so a
    zero-mean signal rounded to 8 bits reads back zero-mean, far under the DC threshold. An 8-bit
    file whose mean is -1/256 (about -0.004) was quantised by truncation, as libsndfile's own
    PCM_U8 writer does: the offset is in the file, and the detector flags it by design (docs/detectors.md)."""
    from benchbox.metrics.artifacts import DetectorConfig, dc_offset

    path = tmp_path / "codes.wav"
    path.write_bytes(_u8_wav(np.array([0, 127, 128, 129, 255] * 200), streamed))
    decoded = decoding.decode_audio(path)
    assert decoded.decoder == ("pyav" if streamed else "soundfile")
    assert decoded.data[:5, 0].tolist() == [-1.0, -1 / 128, 0.0, 1 / 128, 127 / 128]
    rng = np.random.default_rng(0)
    burst = np.hanning(4096) * rng.normal(size=4096) * 0.3  # (T,)
    burst -= burst.mean()
    path.write_bytes(_u8_wav(np.clip(np.round(burst * 128) + 128, 0, 255), streamed))  # round to nearest
    rounded = read_audio(path)[0][:, 0]
    assert abs(float(rounded.mean())) < 0.001 and dc_offset(rounded, DetectorConfig())["dc/flag"] == 0
    path.write_bytes(_u8_wav(np.clip(np.floor(burst * 128) + 128, 0, 255), streamed))  # truncate: what libsndfile's writer does
    truncated = read_audio(path)[0][:, 0]
    assert float(truncated.mean()) == pytest.approx(-1 / 256, abs=5e-4) and dc_offset(truncated, DetectorConfig())["dc/flag"] == 1
