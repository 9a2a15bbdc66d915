"""Report figures: clips for the spectrogram grid chosen by a stated rule, effect charts only for swept axes."""

import numpy as np
import pandas as pd

from benchbox.audio import write_wav
from benchbox.study.figures import STRIP_QUANTILES, _strip, effect_charts, spectrogram_figure


def _study(tmp_path, runs=("a_run",), primes=(0, 20), n=11):
    rows = []
    for run in runs:
        for ckpt in ("best", "last"):
            for prime in primes:
                for i in range(n):
                    rel = f"samples/{ckpt}/prime{prime}/clip_{i:04d}.wav"
                    write_wav(tmp_path / "runs" / run / rel, np.full(2048, 0.01 * (i + 1), np.float32), 16000)
                    rows.append({"run": run, "generator": run.split("_")[0], "checkpoint": ckpt, "checkpoint_sha256": ckpt,
                                 "prime_ms": prime, "dropout": 0.0, "quantisation": "mulaw", "path": rel,
                                 "cont/realism/aisfx": float((7 * i) % n), "cont/useful/auto": int(i % 3 == 0),
                                 "cont/silence/flag": 0})
    return pd.DataFrame(rows)


def test_each_cell_shows_the_realism_quantile_clips():
    cell = pd.DataFrame({"path": [f"c{i}.wav" for i in range(11)], "cont/realism/aisfx": [float((7 * i) % 11) for i in range(11)]})
    picked = [c["cont/realism/aisfx"] for c in _strip(cell, "cont/realism/aisfx")]
    assert picked == [1.0, 5.0, 9.0] and len(STRIP_QUANTILES) == 3  # 10th, 50th, 90th percentile, least realistic first
    assert [c["path"] for c in _strip(cell, None)] == ["c1.wav", "c4.wav", "c8.wav"]  # no realism: the same quantiles of the file names


def test_spectrogram_grid_states_its_rule_and_covers_every_cell(tmp_path):
    clips = _study(tmp_path)
    path, caption = spectrogram_figure(tmp_path, clips, [], tmp_path / "figures" / "spectrograms.png", "aisfx")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert "10th, 50th, 90th percentile of `cont/realism/aisfx`" in caption and "never" not in caption
    assert spectrogram_figure(tmp_path / "elsewhere", clips, [], tmp_path / "x.png", "aisfx") == (None, "")  # clips not kept


def test_effect_charts_follow_the_swept_axes(tmp_path):
    clips = _study(tmp_path, runs=("a_run", "b_run"))
    groups = pd.DataFrame([{"kind": "generated", "run": r, "generator": r.split("_")[0], "checkpoint": c, "prime_ms": p,
                            "quantisation": "mulaw", "cont/nn1/aisfx": 0.8, "cont/kad/aisfx": 0.1}
                           for r in ("a_run", "b_run") for c in ("best", "last") for p in (0, 20)])
    titles = [t for t, _, _ in effect_charts(tmp_path, "figures", clips, groups, "aisfx")]
    assert titles == ["Priming", "Best vs last checkpoint"]  # one dropout and one quantisation: nothing to chart
    assert (tmp_path / "figures" / "effect-priming.png").is_file()


def test_category_fit_chooses_the_clips_when_scored_and_the_summary_reads_it(tmp_path):
    from benchbox.study.summary import category_fit

    clips = _study(tmp_path).assign(**{"cont/footstep/p": lambda d: d["cont/realism/aisfx"] / 10})
    _, caption = spectrogram_figure(tmp_path, clips, [], tmp_path / "s.png", "aisfx")
    assert "percentile of `cont/footstep/p`" in caption
    gen = pd.DataFrame({"cont/footstep/share": [0.25, 0.75]})
    assert category_fit(clips, gen).startswith("mean `cont/footstep/p` 0.50") and "above threshold 0.50" in category_fit(clips, gen)
    assert category_fit(clips.drop(columns=["cont/footstep/p"]), gen).startswith("n/a")
