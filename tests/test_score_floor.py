"""The floor row's useful rate on held-out real clips, whole and cut where each prime ends (benchbox.score_floor)."""

import math

import numpy as np
import pandas as pd
import pytest

from benchbox.audio import load_audio, write_wav
from benchbox.data.dataset import load_dataset
from benchbox.metrics import category
from benchbox.metrics.artifacts import DetectorConfig, detect
from benchbox.metrics.verdict import VerdictConfig, verdicts
from benchbox.score import FLOOR_GROUP, ScoreConfig, score_run
from benchbox.score_floor import floor_useful_keys, floor_useful_of, floor_useful_text, heldout_verdicts
from benchbox.score_verdict import prime_samples
from tests.score_helpers import RATE_HZ, make_dataset, rewrite_clip, step

CLICK_AT = 40  # samples (2.5 ms): inside the first 10 ms, so a 10 ms prime cuts it off
PRIME_MS = 10
CLICKED = {"val": 2, "test": 3}  # held-out clips with a click; the train clips have none


def _click(wave: np.ndarray) -> np.ndarray:
    out = wave.copy()
    out[CLICK_AT], out[CLICK_AT + 1] = 0.9, -0.9  # a full-scale doublet the click detector flags
    return out


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval, written out: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


@pytest.fixture
def clicked(tmp_path, rng):
    """A reference whose first held-out clips (val and test) start with a click, and a run whose
    groups are those held-out clips themselves: unprimed, and primed for 10 ms."""
    data = make_dataset(tmp_path / "data", rng, counts={"train": 4, "val": 4, "test": 6})
    ds = load_dataset(data)
    for split, count in CLICKED.items():
        for path in ds.clip_paths(split)[:count]:
            rewrite_clip(data, path, _click(load_audio(path)))
    heldout = [load_audio(p, RATE_HZ) for s in ("val", "test") for p in load_dataset(data).clip_paths(s)]
    records = []
    for prime_ms in (0, PRIME_MS):
        for i, wave in enumerate(heldout):
            rel = f"samples/best/prime{prime_ms}/clip_{i:04d}.wav"
            write_wav(tmp_path / "run" / rel, wave, RATE_HZ)
            records.append({"path": rel, "generator": "copy", "quantisation": "linear", "dropout": 0.0, "checkpoint": "best", "prime_ms": prime_ms})
    pd.DataFrame(records).to_csv(tmp_path / "run" / "samples" / "manifest.csv", index=False)
    config = ScoreConfig(cache_dir=str(tmp_path / "cache"), verdict=VerdictConfig(footstep_min=0.0))  # the toy steps are no footsteps to the shipped model
    result = score_run(tmp_path / "run", reference=data, embedders=(), bootstrap=0, config=config)
    return result, data, heldout


def _direct(heldout: list[np.ndarray], prime_ms: float, threshold: float) -> int:
    """Useful clips among ``heldout`` cut where a ``prime_ms`` prime ends: the detectors and the
    shipped category model on the cut clips, the verdict on those, counted here."""
    p = prime_samples(prime_ms, RATE_HZ)
    cut = [w[p:] for w in heldout]
    flags = [{k: v for k, v in detect(w, RATE_HZ, DetectorConfig()).items() if k.endswith("/flag")} for w in cut]
    probability = category.footstep_probability(cut, RATE_HZ, category.load_model(category.model_file("")))
    return int(verdicts(flags, probability, threshold)[0].sum())


def test_floor_useful_is_the_held_out_clips_verdict_cut_where_the_prime_ends(clicked):
    result, data, heldout = clicked
    floor = result.groups.set_index("group").loc[FLOOR_GROUP].to_dict()
    n = sum(len(load_dataset(data).clip_paths(s)) for s in ("val", "test"))
    clicks = sum(CLICKED.values())
    for ms, useful in ((0, n - clicks), (PRIME_MS, n)):  # the click fails the whole clip; the cut removes it
        rate, lo, hi, count = (floor[k] for k in floor_useful_keys(ms))
        assert count == n == 10  # val + test; the 4 train clips (all clean) would make it 14
        assert round(rate * count) == useful == _direct(heldout, ms, 0.0)
        assert (lo, hi) == pytest.approx(_wilson(useful, n))
    assert floor[floor_useful_keys(PRIME_MS)[0]] > floor[floor_useful_keys(0)[0]]  # the known direction


def test_floor_useful_equals_the_verdict_of_the_same_audio_scored_as_clips(clicked):
    """The run's groups are the held-out clips: its unprimed group reads the floor's whole-clip rate and its
    primed group's continuation the floor's 10 ms rate, since both go through the clips' verdict."""
    result, *_ = clicked
    groups = result.groups.set_index("group")
    floor = groups.loc[FLOOR_GROUP]
    prime = pd.to_numeric(groups["prime_ms"], errors="coerce")
    whole, primed = groups[prime == 0].iloc[0], groups[prime == PRIME_MS].iloc[0]
    assert whole["useful/auto_rate"] == floor[floor_useful_keys(0)[0]] == 0.5
    assert primed["cont/useful/auto_rate"] == floor[floor_useful_keys(PRIME_MS)[0]] == 1.0
    assert primed["useful/auto_rate"] == 0.5  # the whole primed clip keeps its click
    assert floor["useful/auto_rate"] == 0.5 and floor["n"] == 4  # the val-only whole-clip rate is left as it was


def test_the_category_model_sees_the_cut_clip(tmp_path, rng):
    """footstep/p of a cut row is the model's on ``clip[P:]``, as a primed clip's cont/footstep/p is."""
    waves = [step(rng) for _ in range(3)]
    model = category.load_model(category.model_file(""))
    table = heldout_verdicts(waves, RATE_HZ, [40.0], model=model, threshold=0.0, config=VerdictConfig(), detectors=DetectorConfig(),
                             cache_dir=tmp_path / "cache", progress=lambda *a: None)
    p = prime_samples(40, RATE_HZ)
    assert list(table["prime_ms"]) == [0.0] * 3 + [40.0] * 3
    np.testing.assert_allclose(table["cont/footstep/p"].to_numpy()[3:], category.footstep_probability([w[p:] for w in waves], RATE_HZ, model), rtol=1e-6)
    np.testing.assert_allclose(table["cont/footstep/p"].to_numpy()[:3], category.footstep_probability(waves, RATE_HZ, model), rtol=1e-6)


@pytest.mark.parametrize("embedders", [(), ("mel",)])
def test_each_reference_clip_is_decoded_once_per_score(tmp_path, rng, monkeypatch, embedders):
    """The floor reuses the held-out clips the verdict metrics decoded: one load of each reference clip
    per score call, with embedders (every split loaded for them) or without (val for the floor's verdict)."""
    import benchbox.score_floor as floor_module
    import benchbox.score_verdict as verdict_module
    from tests.score_helpers import make_run

    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "run", data, rng)
    decoded = []
    for module in (verdict_module, floor_module):
        monkeypatch.setattr(module, "load_audio", lambda path, rate, real=module.load_audio: decoded.append(str(path)) or real(path, rate))
    config = ScoreConfig(cache_dir=str(tmp_path / "cache"))
    floor = score_run(run, reference=data, embedders=embedders, bootstrap=0, config=config).groups.set_index("group").loc[FLOOR_GROUP]
    heldout = {str(p) for s in ("val", "test") for p in load_dataset(data).clip_paths(s)}
    assert len(decoded) == len(set(decoded)) and heldout <= set(decoded)
    assert floor[floor_useful_keys(0)[3]] == len(heldout)


def test_scores_without_the_columns_read_a_dash():
    assert floor_useful_of({}, 20) is None and floor_useful_text({}, 20) == "-"
    rate, lo, hi, n = floor_useful_keys(20)
    assert rate == "floor@20ms/useful/auto_rate" and n == "floor@20ms/useful/n"
    good = {rate: 0.8, lo: 0.6, hi: 0.9, n: 10}
    assert floor_useful_text(good, 20.0) == "80.0% [60.0, 90.0] (8/10)" and floor_useful_text(good, 40) == "-"
    assert floor_useful_text({**good, rate: float("nan")}, 20) == "-" and floor_useful_text({**good, n: 0}, 20) == "-"
    assert floor_useful_text({**good, hi: 1.5}, 20) == "-"  # malformed: no number rather than a wrong one
    whole = dict(zip(floor_useful_keys(0), ("0.5", "0.2", "0.8", "10")))  # read back from a CSV as text
    assert floor_useful_text(whole, float("nan")) == floor_useful_text(whole, "") == floor_useful_text(whole, 0) == "50.0% [20.0, 80.0] (5/10)"
