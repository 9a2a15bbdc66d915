"""Decode audio files: soundfile (libsndfile) first, PyAV (FFmpeg) where libsndfile cannot be trusted.

Legend: T frames (samples per channel), C channels. Decoded data is (T, C) float32.

libsndfile is fast and exact on the files it knows, but it takes a file's length from
its header: a WAV whose RIFF/data sizes are 0 (a recorder that crashed or streamed), a
FLAC whose STREAMINFO total is 0 ("unknown", as streaming encoders write it) and an Ogg
whose last page is not an end-of-stream page (its granule position may be -1 or 0) read
as empty, as a lying header, or short. It reads only the first of several chained Ogg
streams, and does not open mp4/m4a at all. For those files the header and the data
disagree, or libsndfile fails, and :func:`decode_audio` decodes the data with PyAV
instead. The hostile-header checks (:func:`check_header`: rate, channels, sizes) apply
to both decoders, and both decode block by block, so memory follows the data the file
really holds, whatever its header claims.

Chained Ogg files (several logical streams one after another) are split into their
links at the page level and every link is decoded; :class:`Decoded` ``notes`` says so.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from benchbox.errors import AudioError
from benchbox.mixing import downmix, resample

# Header fields outside these bounds cannot describe a real recording: they are refused
# before any sample is decoded (a 3 Hz header would resample to 5,333x its size).
MIN_RATE_HZ = 1_000
MAX_RATE_HZ = 768_000
MAX_CHANNELS = 64
FRAMES_SLACK = 2.0  # a header may overstate its frame count by this factor (mp3/ogg estimates)
READ_BLOCK_FRAMES = 1 << 18  # decode in blocks, so memory follows the real data, not the header
WAV_HEADER_BYTES = 12  # "RIFF" <size> "WAVE"
WAV_STREAMED_LENGTH = 0xFFFFFFFF  # data chunk length of a streamed wav: size unknown
SF_UNKNOWN_FRAMES = (1 << 63) - 1  # libsndfile's frame count for "length unknown" (a FLAC total of 0)
OGG_CAPTURE = b"OggS"
OGG_HEADER_BYTES = 27  # capture, version, flags, granule, serial, sequence, crc, segment count
OGG_BOS, OGG_EOS = 0x02, 0x04  # page flags: beginning / end of a logical stream
OGG_SUFFIXES = (".ogg", ".oga", ".opus")


@dataclass(frozen=True)
class Decoded:
    data: np.ndarray  # (T, C) float32
    rate_hz: int
    decoder: str  # "soundfile" or "pyav"
    notes: tuple[str, ...] = ()  # what a caller should report: the decoder fallback, chained streams


class _Untrusted(Exception):
    """libsndfile's reading of a file cannot be trusted (the reason is the message): try PyAV."""


# ------------------------------------------------------------------------ checks


def check_header(path: Path, rate_hz: int, channels: int, frames: int) -> None:
    """Refuse header fields no real recording has; AudioError names the field."""
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise AudioError(f"{path}: sample rate field says {rate_hz} Hz, outside the plausible {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz", hint="the header is corrupt; re-export the file")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{path}: channel count field says {channels}, outside 1-{MAX_CHANNELS}", hint="the header is corrupt; re-export the file")
    if frames < 0:
        raise AudioError(f"{path}: frames field is negative ({frames})", hint="the header is corrupt; re-export the file")


def check_wav_complete(path: Path) -> None:
    """Raise AudioError for a WAV whose data chunk is longer than the bytes the file holds, or
    whose fmt chunk gives an implausible sample rate or channel count (:func:`check_header`).

    A data size of 0 or 0xFFFFFFFF means "unknown" (streamed or crashed recorders) and passes.
    """
    if path.suffix.lower() != ".wav":
        return
    with open(path, "rb") as f:
        head = f.read(WAV_HEADER_BYTES)
        if len(head) < WAV_HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not RIFF/WAVE: let the decoder explain
        size = path.stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            ident, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if ident == b"fmt " and length >= 8:  # format tag (2), channels (2), sample rate (4), ...
                fmt = f.read(8)
                f.seek(-len(fmt), 1)
                if len(fmt) == 8:
                    channels, rate_hz = struct.unpack("<HI", fmt[2:8])
                    check_header(path, rate_hz, channels, 0)  # libsndfile refuses these with no field named
            if ident == b"data":
                have = size - f.tell()
                if length > have and length != WAV_STREAMED_LENGTH:
                    raise AudioError(f"{path}: data chunk size field lies or the file is truncated (header declares {length} data bytes, file holds {have})", hint="re-export the file")
                return
            f.seek(length + (length & 1), 1)


# ------------------------------------------------------------------- soundfile


def read_soundfile(source: Path | io.BytesIO, path: Path) -> tuple[np.ndarray, int]:
    """Every frame via libsndfile; AudioError for a hostile header, _Untrusted when the data disagrees."""
    try:
        f = sf.SoundFile(source if isinstance(source, io.BytesIO) else str(source))
    except Exception as e:  # LibsndfileError, RuntimeError, TypeError, ...
        raise _Untrusted(f"soundfile: {_first_line(e)}") from None
    with f:
        check_header(path, f.samplerate, f.channels, f.frames)
        if f.frames in (0, SF_UNKNOWN_FRAMES):
            raise _Untrusted(f"soundfile: the header gives no length ({'0' if f.frames == 0 else 'unknown'} frames)")
        data = _read_blocks(f, path)
    if data.shape[0] == 0:
        raise _Untrusted("soundfile: no audio frames")
    return data, int(f.samplerate)


def _read_blocks(f: sf.SoundFile, path: Path) -> np.ndarray:
    """Every frame of an open file as (T, C) float32, read block by block until the data ends.

    A header that declares far more frames than the data holds (AudioError naming the
    frames field) is found by reading, never by allocating what the header claims.
    """
    declared, blocks, got = int(f.frames), [], 0
    while True:
        try:
            block = f.read(READ_BLOCK_FRAMES, dtype="float32", always_2d=True)  # (<=block, C)
        except Exception as e:  # a decoder that runs off the real data while the header promises more
            if declared > FRAMES_SLACK * got + f.samplerate:
                break
            raise _Untrusted(f"soundfile: decoding failed after {got} frames ({_first_line(e)})") from None
        blocks.append(block)
        got += block.shape[0]
        if block.shape[0] < READ_BLOCK_FRAMES:
            break
    if declared > FRAMES_SLACK * got + f.samplerate:
        raise AudioError(f"{path}: frames field lies (header declares {declared} frames, {declared / f.samplerate:.0f} s; the data holds at most {got + READ_BLOCK_FRAMES})", hint="re-export the file")
    return np.concatenate(blocks) if blocks else np.zeros((0, f.channels), dtype=np.float32)


# ------------------------------------------------------------------------ PyAV


def read_pyav(source: Path | io.BytesIO, path: Path) -> tuple[np.ndarray, int]:
    """Every frame of the first audio stream via FFmpeg (PyAV), with the same header checks.

    AudioError for a hostile header, _Untrusted (the reason) when FFmpeg cannot decode it.
    """
    import av

    try:
        with av.open(source if isinstance(source, io.BytesIO) else str(source), mode="r") as container:
            if not container.streams.audio:
                raise _Untrusted("PyAV: no audio stream")
            stream = container.streams.audio[0]
            rate, channels = int(stream.codec_context.sample_rate or 0), int(stream.codec_context.layout.nb_channels)
            check_header(path, rate, channels, int(stream.frames or 0))
            return _pyav_frames(container, stream, path, rate, channels), rate
    except (AudioError, _Untrusted):
        raise
    except Exception as e:  # av.error.FFmpegError, ValueError, ...
        raise _Untrusted(f"PyAV: {_first_line(e)}") from None


def _pyav_frames(container, stream, path: Path, rate: int, channels: int) -> np.ndarray:
    import av

    to_float = av.AudioResampler(format="flt")  # packed float32, same layout and rate
    blocks = []
    for frame in container.decode(stream):
        if frame.sample_rate != rate or frame.layout.nb_channels != channels:
            raise AudioError(f"{path}: the stream changes from {rate} Hz x {channels} to {frame.sample_rate} Hz x {frame.layout.nb_channels} channels mid-file", hint="re-export the file")
        blocks.extend(out.to_ndarray().reshape(-1, channels) for out in to_float.resample(frame))  # (n, C)
    blocks.extend(out.to_ndarray().reshape(-1, channels) for out in to_float.resample(None))
    return np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros((0, channels), dtype=np.float32)


# ------------------------------------------------------------------------- Ogg


def ogg_links(data: bytes) -> tuple[list[bytes], bool]:
    """Split an Ogg file into its chained links; also whether its last page ends a stream (EOS).

    A link starts at a beginning-of-stream page that follows a non-BOS page (several BOS
    pages in a row are one multiplexed link). Bytes after the last whole page stay in the
    last link (a truncated file), so the decoder sees them.
    """
    starts, offset, flags, previous_bos = [0], 0, 0, True
    while data[offset : offset + 4] == OGG_CAPTURE and offset + OGG_HEADER_BYTES <= len(data):
        segments = data[offset + OGG_HEADER_BYTES - 1]
        table = data[offset + OGG_HEADER_BYTES : offset + OGG_HEADER_BYTES + segments]
        size = OGG_HEADER_BYTES + segments + sum(table)
        if len(table) < segments or offset + size > len(data):
            flags = 0  # a torn last page ends nothing
            break
        flags = data[offset + 5]
        if flags & OGG_BOS and not previous_bos and offset:
            starts.append(offset)
        previous_bos = bool(flags & OGG_BOS)
        offset += size
    ends = [*starts[1:], len(data)]
    return [data[a:b] for a, b in zip(starts, ends)], bool(flags & OGG_EOS)


def ogg_grouped_streams(link: bytes) -> int:
    """How many logical streams a link multiplexes: its leading beginning-of-stream pages."""
    count, offset = 0, 0
    while link[offset : offset + 4] == OGG_CAPTURE and offset + OGG_HEADER_BYTES <= len(link) and link[offset + 5] & OGG_BOS:
        segments = link[offset + OGG_HEADER_BYTES - 1]
        offset += OGG_HEADER_BYTES + segments + sum(link[offset + OGG_HEADER_BYTES : offset + OGG_HEADER_BYTES + segments])
        count += 1
    return count


def _grouped_note(decoded: Decoded, links: list[bytes]) -> Decoded:
    grouped = max(ogg_grouped_streams(link) for link in links)
    if grouped < 2:
        return decoded
    return replace(decoded, notes=(*decoded.notes, f"multiplexes {grouped} logical Ogg streams at once: only the first audio stream was read"))


# ------------------------------------------------------------------------ entry


def decode_audio(path: str | Path) -> Decoded:
    """Decode a file, choosing the decoder the file can be trusted to (module docstring).

    Raises AudioError naming the file: not found, empty, a hostile header field, or
    audio that neither decoder can read (both reasons given).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found", hint="check the path")
    try:
        if path.stat().st_size == 0:
            raise AudioError(f"{path}: empty file (0 bytes)", hint="re-export or delete the file")
        check_wav_complete(path)
        with open(path, "rb") as f:
            is_ogg = f.read(4) == OGG_CAPTURE or path.suffix.lower() in OGG_SUFFIXES
        # libsndfile cannot open a name that is not valid UTF-8 (a Latin-1 byte): hand it the bytes
        source = path if _utf8(str(path)) and not is_ogg else io.BytesIO(path.read_bytes())
    except OSError as e:  # unreadable (permissions), vanished, an I/O error
        raise AudioError(f"{path}: cannot read the file ({e.strerror or type(e).__name__})", hint="check its permissions") from None
    if not is_ogg:
        return _decode_one(source, path, trust_soundfile=True)
    links, ended = ogg_links(source.getvalue())
    if len(links) == 1:
        decoded = _decode_one(source, path, trust_soundfile=ended, distrust="the last Ogg page is not an end-of-stream page, so libsndfile's length is a guess")
        return _grouped_note(decoded, links)
    parts = [_decode_one(io.BytesIO(link), path, trust_soundfile=True) for link in links]
    return _grouped_note(_join_links(parts, path), links)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decode_one(source: Path | io.BytesIO, path: Path, *, trust_soundfile: bool, distrust: str = "") -> Decoded:
    """soundfile, then PyAV where soundfile cannot be trusted (``trust_soundfile=False``: PyAV first)."""
    readers = [("soundfile", read_soundfile), ("pyav", read_pyav)]
    reasons = [] if trust_soundfile else [distrust]
    for name, reader in readers if trust_soundfile else readers[::-1]:
        if isinstance(source, io.BytesIO):
            source.seek(0)
        try:
            data, rate = reader(source, path)
        except _Untrusted as e:
            reasons.append(str(e))
            continue
        if data.shape[0] == 0:
            reasons.append(f"{name}: no audio frames")
            continue
        return Decoded(data, rate, name, (f"decoded with {'PyAV' if name == 'pyav' else name} ({'; '.join(reasons)})",) if reasons else ())
    if all(r.endswith("no audio frames") or "no length" in r for r in reasons if r != distrust):
        raise AudioError(f"{path}: no audio frames", hint="re-export or delete the file")
    raise AudioError(f"{path}: cannot decode audio ({'; '.join(reasons)})", hint="re-export it as wav/flac/ogg or delete it")


def _join_links(parts: list[Decoded], path: Path) -> Decoded:
    """One (T, C) signal from the links of a chained Ogg: later links resampled to the first
    link's rate; all downmixed to mono when their channel counts differ."""
    rate = parts[0].rate_hz
    same_channels = len({p.data.shape[1] for p in parts}) == 1
    blocks = []
    for p in parts:
        data = p.data if same_channels else downmix(p.data)[:, None]  # (T, C) or (T, 1)
        if p.rate_hz != rate:
            data = np.stack([resample(data[:, c], p.rate_hz, rate) for c in range(data.shape[1])], axis=1)
        blocks.append(data)
    notes = [f"{len(parts)} chained Ogg streams, all read and joined"]
    notes += [n for p in parts for n in p.notes]
    if not same_channels:
        notes.append("its streams differ in channel count: each was downmixed to mono")
    decoder = "pyav" if any(p.decoder == "pyav" for p in parts) else "soundfile"
    return Decoded(np.concatenate(blocks).astype(np.float32, copy=False), rate, decoder, tuple(notes))


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
