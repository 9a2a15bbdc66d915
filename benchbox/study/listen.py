"""Listen before you believe (issue 28 §3): per family, the spectrograms and the audio of the
clips the verdict calls useful and of those it rejects; and of the best five cells.

The clips are the ones :func:`benchbox.study.family_findings.listen_examples` and
:func:`~benchbox.study.family_findings.best_cells` pick by their stated rule (clips at the
reference sampling setting; within each set or cell, those at the 10th, 50th and 90th
percentile of ``cont/footstep/p``). Picks come as group -> label -> rows (a family ->
useful / rejected; ``cell-<rank>`` -> the cell's name). Each is kept beside the report as a
small Ogg/Opus file (``OUT/listen/<group>/``, ``OPUS_BIT_RATE`` bits/s, a few kB a clip), so
a committed study, whose clips are not kept, still shows and plays every clip its report names:
the spectrograms are drawn from the original clip when it is on disk, else from that file, and
report.html embeds the files. Legend: T samples per clip.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.runs import atomic_write_bytes

LISTEN_DIR = "listen"
OPUS_BIT_RATE = 24_000  # bits/s: a 0.512 s clip is about 1.6 kB
OPUS_SUFFIX = ".ogg"
FIGURE_NAME = "families-listen.png"
CELLS_FIGURE_NAME = "best-cells-listen.png"
CELL_GROUP = "cell-"  # the groups of the best cells: cell-1 ... cell-5


def encode_opus(wave: np.ndarray, rate_hz: int) -> bytes:
    """(T,) float waveform in [-1, 1] -> the bytes of a mono Ogg/Opus file (PyAV's libopus).
    Bit-exact (FFmpeg's ``bitexact`` flags: a fixed Ogg serial number, no encoder-version tag),
    so the same clip gives the same bytes and a re-run report leaves a committed copy unchanged."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="ogg", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libopus", rate=rate_hz, options={"flags": "+bitexact"})
        stream.bit_rate = OPUS_BIT_RATE
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.clip(wave, -1.0, 1.0).astype(np.float32)[None, :], format="flt", layout="mono")  # (1, T)
        frame.sample_rate = rate_hz
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buf.getvalue()


def _file_name(run: str, path: str) -> str:
    return f"{run}__{Path(path).with_suffix('').as_posix().replace('/', '_')}{OPUS_SUFFIX}"


def keep_clips(out: Path, picks: Mapping[str, Mapping[str, list[pd.Series]]]) -> dict[str, dict[str, list[tuple[pd.Series, Path]]]]:
    """Write (or, without the original clip, reuse) the Opus copy of every picked clip under
    ``OUT/listen/<group>/``; drop the copies no pick names any more. Returns group -> label ->
    ``[(clip row, its Opus file)]``, leaving out picks with neither the clip nor a copy."""
    from benchbox.score import decode

    root = Path(out) / LISTEN_DIR
    kept: dict[str, dict[str, list[tuple[pd.Series, Path]]]] = {}
    wanted: set[Path] = set()
    for family, sets in picks.items():
        for label, rows in sets.items():
            for row in rows:
                dest = root / family / _file_name(str(row["run"]), str(row["path"]))
                src = Path(out) / "runs" / str(row["run"]) / str(row["path"])
                if src.is_file():
                    wave, rate = decode(src)
                    atomic_write_bytes(dest, encode_opus(wave, rate))
                if dest.is_file():
                    wanted.add(dest)
                    kept.setdefault(family, {}).setdefault(label, []).append((row, dest))
    for stale in root.glob(f"*/*{OPUS_SUFFIX}") if root.is_dir() else []:
        if stale not in wanted:
            stale.unlink()
    return kept


def kept_bytes(out: Path) -> tuple[int, int]:
    """(files, bytes) of the Opus copies under ``OUT/listen``."""
    files = sorted((Path(out) / LISTEN_DIR).glob(f"*/*{OPUS_SUFFIX}"))
    return len(files), sum(f.stat().st_size for f in files)


def _wave(out: Path, row: pd.Series, copy: Path) -> tuple[np.ndarray, int]:
    """The clip as generated when on disk, else its Opus copy at the clip's own rate."""
    from benchbox.audio import load_audio
    from benchbox.score import decode

    src = Path(out) / "runs" / str(row["run"]) / str(row["path"])
    if src.is_file():
        return decode(src)
    rate = int(row.get("sample_rate_hz") or 16_000)
    return load_audio(copy, rate), rate


def _p(row: pd.Series) -> str:
    """The clip's category fit as text ("n/a" in scores without a category model)."""
    from benchbox.study.family_findings import FOOTSTEP_P

    value = pd.to_numeric(pd.Series([row.get(FOOTSTEP_P)]), errors="coerce").iloc[0]
    return "n/a" if pd.isna(value) else f"{value:.2f}"


def split(kept: Mapping[str, Mapping[str, list]]) -> tuple[dict, dict]:
    """``(families, best cells)`` of :func:`keep_clips`' result."""
    cells = {g: v for g, v in kept.items() if g.startswith(CELL_GROUP)}
    return {g: v for g, v in kept.items() if g not in cells}, cells


def families_figure(out: Path, kept: Mapping[str, Mapping[str, list]], path: Path) -> Path | None:
    """One row per group, a strip per label: a family's useful clips and its rejected clips, or a
    cell's clips (the spectrogram grid of :mod:`benchbox.plots`, clips end to end as in the
    study's spectrograms)."""
    from benchbox.plots import SpectrogramCell, spectrogram_grid
    from benchbox.study.figures import MS_PER_SECOND, _concat

    rows = []
    for family, sets in sorted(kept.items()):
        row = []
        for label, clips in sets.items():
            if not clips:
                continue
            decoded = [_wave(out, r, copy) for r, copy in clips]
            wave, bounds, starts = _concat([w for w, _ in decoded], decoded[0][1])
            prime_s = float(clips[0][0].get("prime_ms", 0) or 0) / MS_PER_SECOND  # a cell's clips share their prime length
            marks = [start + prime_s for start in starts] if prime_s > 0 else None
            ps = ", ".join(_p(r) for r, _ in clips)
            title = label if family.startswith(CELL_GROUP) else f"{family}: {label}"
            row.append(SpectrogramCell(f"{title}\nfootstep/p {ps}", wave, decoded[0][1], marks, bounds))
        if row:
            rows.append(row)
    if not rows:
        return None
    return spectrogram_grid(rows, path, columns=max(len(r) for r in rows), cell_size_in=(3.4, 1.9))


def listen_markdown(out: Path, kept: Mapping[str, Mapping[str, list]], families_fig: tuple[str, Path | None],
                    cells_fig: tuple[str, Path | None] = ("", None)) -> list[str]:
    """The two figures (each ``(path relative to the report, drawn file or None)``), their rule,
    and what the kept audio weighs."""
    if not kept:
        return []
    files, size = kept_bytes(out)
    lines = ["#### Spectrograms and audio", ""]
    if families_fig[1] is not None:
        lines += ["One row per family: a strip of its useful clips and a strip of its rejected clips (each panel names its "
                  "family and set; a set with no clip has no panel), the picks above, end to end (white lines between clips), "
                  "lowest `cont/footstep/p` first. Frequency in kHz, time in s, colour in dBFS.",
                  "", f"![useful and rejected clips per family]({families_fig[0]})", ""]
    if cells_fig[1] is not None:
        lines += ["One row per best cell (the table above), its picked clips end to end, lowest `cont/footstep/p` first.",
                  "", f"![the clips of the best cells]({cells_fig[0]})", ""]
    lines += [f"report.html plays each of them (section Listen). They are kept with the study as {files} Ogg/Opus files "
              f"(`{LISTEN_DIR}/`, {OPUS_BIT_RATE // 1000} kbit/s) of {size / 1024:.1f} KiB in all, so a fresh clone can "
              "play them without the generated clips.", ""]
    return lines


def families_html(kept: Mapping[str, Mapping[str, list]]) -> str:
    """The players of the picked clips, one row per family and one per best cell, embedded
    (Ogg/Opus data URIs)."""

    families, cells = split(kept)

    def players(clips) -> str:
        return "".join(player(copy, f"p = {_p(r)} ({r['run']})") for r, copy in clips)

    out = ""
    if families:
        rows = "".join(f"<tr><th>{html.escape(f)}</th><td>{players(s.get('useful', []))}</td><td>{players(s.get('rejected', []))}</td></tr>"
                       for f, s in sorted(families.items()))
        out += ("<h3>Per family: the clips the verdict calls useful, and those it rejects</h3><p>Picked by the rule of the "
                "families section (listen_examples); Ogg/Opus copies kept in listen/.</p><div class='scroll'><table class='listen'>"
                f"<thead><tr><th>family</th><th>useful</th><th>rejected</th></tr></thead><tbody>{rows}</tbody></table></div>")
    if cells:
        rows = "".join(f"<tr><th>{html.escape(label)}</th><td>{players(clips)}</td></tr>"
                       for _, s in sorted(cells.items(), key=lambda g: int(g[0][len(CELL_GROUP):])) for label, clips in s.items())
        out += ("<h3>The best cells</h3><p>The cells of the families section's best-cells table, each with its clips at the "
                "10th, 50th and 90th percentile of footstep/p.</p><div class='scroll'><table class='listen'><thead><tr><th>cell</th>"
                f"<th>clips</th></tr></thead><tbody>{rows}</tbody></table></div>")
    return out


AUDIO_MIME = {".wav": "audio/wav", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".mp3": "audio/mpeg"}


def player(clip: Path, label: str) -> str:
    """An embedded player (data URI) of a wav, Ogg/Opus or MP3 file."""
    if not clip.is_file():
        return f"{html.escape(label)} (clip not on disk)"
    data = base64.b64encode(clip.read_bytes()).decode("ascii")
    mime = AUDIO_MIME.get(clip.suffix.lower(), "audio/wav")
    return f'{html.escape(label)}<audio controls preload="none" src="data:{mime};base64,{data}"></audio>'
