import shutil

import pandas as pd
import pytest
import soundfile as sf
import torch

from benchbox.audio import SILENCE_CODE, decode, encode
from benchbox.checkpoint import CHECKPOINT_FORMAT
from benchbox.config import parse_overrides
from benchbox.data.dataset import load_dataset
from benchbox.errors import CheckpointError, ConfigError, DataError
from benchbox.generators import registry
from benchbox.runs import sha256_file
from benchbox.generate import MANIFEST_COLUMNS, generate_run, parse_prime_ms
from benchbox.sample import _sampling_library, choose, draw, sample
from tests.train_helpers import SHRINK, corpus, tiny_run

PCM16_STEP = 2.0**-15  # one step of a 16-bit wav

RATE_HZ = 16_000
SECONDS = 0.032  # 512 samples
GRID = {"n": 3, "batch": 2, "seconds": SECONDS, "prime_ms": (0, 10, 20), "device": "cpu"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    tiny_run(root / "run", corpus(root / "ds"), "wavenet", 2)
    generate_run(root / "run", **GRID)
    return root / "run"


def _model(generator):
    name, cfg = registry.load_preset(f"{generator}-tiny", parse_overrides(SHRINK[generator])["model"])
    torch.manual_seed(0)
    return registry.build(name, cfg).eval()


def test_choose_temperature_zero_and_nucleus():
    logits = torch.tensor([0.4, 0.3, 0.2, 0.1]).log().expand(2000, 4)
    gen = torch.Generator().manual_seed(0)
    assert set(choose(logits, 0.0, 1.0, gen).tolist()) == {0}
    assert set(choose(logits, 1.0, 0.5, gen).tolist()) == {0, 1}  # 0.4 < 0.5, so the 0.3 token joins
    assert set(choose(logits, 1.0, 1e-6, gen).tolist()) == {0}
    assert set(choose(logits, 1.0, 1.0, gen).tolist()) == {0, 1, 2, 3}
    hot = choose(logits, 5.0, 1.0, gen)
    assert (hot == 3).float().mean() > 0.15  # a high temperature flattens the distribution


@pytest.mark.parametrize("generator", ["sashimi", "wavenet"])
def test_sample_steps_only_and_logprobs_match_forward(generator):
    model = _model(generator)
    prime = torch.randint(0, 256, (3, 5))
    forward = model.forward
    model.forward = lambda x: pytest.fail("the sampler must not call forward")
    codes, lp_sum, lp_mean = sample(model, n=3, length=48, prime=prime, generator=torch.Generator().manual_seed(1), batch=2)
    model.forward = forward
    assert codes.shape == (3, 48) and torch.equal(codes[:, :5], prime)
    assert torch.allclose(lp_mean, lp_sum / 43)
    inputs = torch.cat([torch.full((3, 1), SILENCE_CODE), codes[:, :-1]], dim=1)  # (3, 48)
    with torch.no_grad():
        logp = torch.log_softmax(model(inputs), dim=-1).gather(2, codes[:, :, None])[:, 5:, 0]  # (3, 43)
    assert torch.allclose(lp_sum.float(), logp.sum(1), atol=1e-3)


def test_argmax_ignores_the_seed():
    model = _model("wavenet")
    runs = [sample(model, n=2, length=30, prime=None, temperature=0.0, generator=torch.Generator().manual_seed(s))[0] for s in (0, 1)]
    assert torch.equal(runs[0], runs[1])


def test_grid_manifest_and_clip_lengths(run):
    frame = pd.read_csv(run / "samples" / "manifest.csv", keep_default_na=False)
    assert tuple(frame.columns) == MANIFEST_COLUMNS and len(frame) == 2 * 3 * 3
    assert sorted(set(zip(frame["checkpoint"], frame["prime_ms"]))) == [(c, p) for c in ("best", "last") for p in (0, 10, 20)]
    for row in frame.itertuples():
        wave, rate = sf.read(run / row.path)
        assert rate == RATE_HZ and len(wave) == round(SECONDS * RATE_HZ)
        assert row.checkpoint_sha256 == sha256_file(run / "ckpt" / f"{row.checkpoint}.pt")
    assert frame["clip_id"].is_unique and set(frame["generator"]) == {"wavenet"} and set(frame["quantisation"]) == {"mulaw"}
    assert (frame["logprob_mean"] * (512 - frame["prime_ms"] * RATE_HZ // 1000) - frame["logprob_sum"]).abs().max() < 1e-6
    assert set(frame.loc[frame["prime_ms"] == 0, "prime_source"]) == {""}
    assert (run / "samples" / "generate_config.toml").is_file() and (run / "samples" / "versions.json").is_file()


def test_prime_prefix_decodes_exactly(run):
    """A written clip's first P samples are the mu-law round trip of the real prime (the same codes,
    within one 16-bit step of decode(encode(x)) after the 16-bit wav), not the real samples."""
    ds = load_dataset(load_dataset_path(run))
    test_ids = list(ds.rows("test")["id"].astype(str))
    test_codes = encode(ds.load_clips("test"), "mulaw")
    frame = pd.read_csv(run / "samples" / "manifest.csv", keep_default_na=False)
    primed = frame[frame["prime_ms"] == 20].sort_values("clip_id")
    assert list(primed["prime_source"][:3]) == [test_ids[i % len(test_ids)] for i in range(3)]
    for row in primed.itertuples():
        wave, _ = sf.read(run / row.path, dtype="float32")
        source = test_codes[test_ids.index(row.prime_source)]
        assert torch.equal(encode(wave[:320], "mulaw"), source[:320])
        assert (torch.from_numpy(wave[:320]) - decode(source[:320], "mulaw")).abs().max() <= PCM16_STEP


def load_dataset_path(run):
    import tomllib

    return tomllib.loads((run / "config.toml").read_text())["data"]["path"]


def test_same_seed_same_bytes_and_cells_merge(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    clip = copy / "samples" / "last" / "prime10" / "clip_0000.wav"
    before = clip.read_bytes()
    generate_run(copy, checkpoints="last", prime_ms="10", n=2, seconds=SECONDS, device="cpu")
    assert clip.read_bytes() == before and not (clip.parent / "clip_0002.wav").exists()
    frame = pd.read_csv(copy / "samples" / "manifest.csv", keep_default_na=False)
    assert len(frame) == 18 - 1 and len(frame[(frame["checkpoint"] == "last") & (frame["prime_ms"] == 10)]) == 2
    generate_run(copy, checkpoints="last", prime_ms="10", n=2, seconds=SECONDS, seed=1, device="cpu")
    assert clip.read_bytes() != before


def _broken_copy(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy, (copy / "samples" / "manifest.csv").read_bytes()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"checkpoints": "best,nope"}, CheckpointError, "checkpoint not found"),
        ({"prime_ms": "0,40"}, ConfigError, "not shorter than"),
        ({"prime_ms": "0,-10"}, ConfigError, "whole number of milliseconds"),
        ({"prime_ms": "ten"}, ConfigError, "not a number"),
        ({"top_p": 0.0}, ConfigError, "top-p must be in"),
        ({"top_p": 1.5}, ConfigError, "top-p must be in"),
        ({"temperature": -1.0}, ConfigError, "temperature"),
    ],
)
def test_bad_arguments_write_nothing(run, tmp_path, kwargs, error, message):
    copy, manifest = _broken_copy(run, tmp_path)
    with pytest.raises(error, match=message):
        generate_run(copy, **{**GRID, **kwargs})
    assert (copy / "samples" / "manifest.csv").read_bytes() == manifest


def test_bad_run_folders(run, tmp_path):
    copy, manifest = _broken_copy(run, tmp_path)
    (copy / "ckpt" / "last.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="corrupt"):
        generate_run(copy, **GRID)
    data = torch.load(copy / "ckpt" / "best.pt", weights_only=True)
    torch.save({**data, "format": CHECKPOINT_FORMAT + 7}, copy / "ckpt" / "best.pt")
    with pytest.raises(CheckpointError, match="unknown checkpoint format"):
        generate_run(copy, **{**GRID, "checkpoints": "best"})
    config = copy / "config.toml"
    config.write_text(config.read_text().replace(str(load_dataset_path(run)), str(tmp_path / "gone")))
    with pytest.raises(DataError, match="has no dataset"):
        generate_run(copy, **GRID)
    with pytest.raises(ConfigError, match="not a training run"):
        generate_run(tmp_path, **GRID)
    assert (copy / "samples" / "manifest.csv").read_bytes() == manifest


def test_parse_prime_ms():
    assert parse_prime_ms("0, 10,20 ,40") == (0, 10, 20, 40)
    assert parse_prime_ms([0, 20.0]) == (0, 20)
    with pytest.raises(ConfigError, match="empty"):
        parse_prime_ms("")


@pytest.mark.parametrize(("values", "message"), [
    ("0,0", "--prime-ms lists 0 more than once"),
    ("10,10.0,20", "--prime-ms lists 10 more than once"),
    ([0, 10, 10], "--prime-ms lists 10 more than once"),
    ("10,,20", "--prime-ms '10,,20' has an empty item"),
    ("0,10,", "has an empty item"),
])  # fmt: skip
def test_parse_prime_ms_refuses_a_duplicate_or_an_empty_item(values, message):
    with pytest.raises(ConfigError, match=message) as e:  # each was once dropped without a word
        parse_prime_ms(values)
    assert e.value.hint


def test_parse_values_refuses_a_duplicate_or_an_empty_item():
    from benchbox.generate import parse_values

    assert parse_values("1.0, 0.95", "--top-p") == (1.0, 0.95)
    with pytest.raises(ConfigError, match="--top-p lists 0.9 more than once"):
        parse_values("0.9,0.90", "--top-p")
    with pytest.raises(ConfigError, match="has an empty item"):
        parse_values("25,,50", "--sampling-steps", whole=True)


def test_paused_gc_restores_the_collector():
    import gc

    from benchbox.sample import paused_gc

    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_choose_draws_from_the_softmax_distribution():
    probs = torch.tensor([0.0, 0.5, 0.0, 0.3, 0.2])
    logits = probs.clamp_min(1e-30).log().expand(20000, -1)  # (B, C), zero-probability tokens too
    tokens = choose(logits, 1.0, 1.0, torch.Generator().manual_seed(0))
    counts = torch.bincount(tokens, minlength=5).double() / tokens.numel()
    assert counts[0] == 0 and counts[2] == 0
    assert (counts - probs.double()).abs().max().item() < 0.015  # 4+ standard errors


@pytest.mark.skipif(_sampling_library() is None, reason="no C compiler")
@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.3])
def test_native_draw_matches_choose_and_log_softmax(temperature):
    """The compiled draw uses choose's uniforms and arithmetic: the same tokens but for a rare
    rounding tie at a CDF boundary, and each token's log-probability at temperature 1."""
    logits = torch.randn(4000, 256, generator=torch.Generator().manual_seed(5)) * 3  # (B, C)
    tokens, logprob = draw(logits, temperature, 1.0, torch.Generator().manual_seed(1))
    ref = choose(logits, temperature, 1.0, torch.Generator().manual_seed(1))
    same = tokens == ref
    assert same.float().mean().item() > 0.999
    want = torch.log_softmax(logits, dim=-1).gather(1, tokens[:, None])[:, 0]
    assert (logprob - want).abs().max().item() < 1e-4
    assert tokens.dtype == torch.long and tokens.shape == (4000,)


def test_draw_falls_back_to_choose_off_the_fast_path():
    logits = torch.randn(300, 16, generator=torch.Generator().manual_seed(2))
    for temperature, top_p in [(0.0, 1.0), (1.0, 0.6)]:
        tokens, logprob = draw(logits, temperature, top_p, torch.Generator().manual_seed(3))
        assert torch.equal(tokens, choose(logits, temperature, top_p, torch.Generator().manual_seed(3)))
        assert torch.allclose(logprob, torch.log_softmax(logits, -1).gather(1, tokens[:, None])[:, 0])


def test_draw_frequencies_follow_the_softmax():
    probs = torch.tensor([0.0, 0.5, 0.0, 0.3, 0.2])
    logits = probs.clamp_min(1e-30).log().expand(20000, -1).contiguous()  # zero-probability tokens too
    tokens, _ = draw(logits, 1.0, 1.0, torch.Generator().manual_seed(0))
    counts = torch.bincount(tokens, minlength=5).double() / tokens.numel()
    assert counts[0] == 0 and counts[2] == 0
    assert (counts - probs.double()).abs().max().item() < 0.015


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_interrupted_generate_leaves_samples_byte_identical(run, tmp_path):
    """Ctrl-C mid-run used to leave new clips of another length beside a manifest of the old set."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = _tree(copy / "samples")

    def ctrl_c(task, done, total, **info):
        if done >= 2:  # after the first batch's clips were written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_run(copy, **{**GRID, "n": 4, "seconds": 2 * SECONDS}, progress=ctrl_c)
    assert _tree(copy / "samples") == before
    assert sorted(p.name for p in copy.iterdir() if p.name.startswith(".")) == []  # no cell finished: nothing kept


def test_a_cell_of_another_length_beside_kept_cells_is_refused(run, tmp_path):
    """--seconds X regenerated one cell at another length in place: the run mixed 4096- and 8192-sample clips,
    which score ranked side by side and a blinded review would give away."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = _tree(copy / "samples")
    with pytest.raises(ConfigError, match="one run would mix clip lengths"):
        generate_run(copy, checkpoints="last", prime_ms="10", n=2, seconds=SECONDS / 2, device="cpu")
    assert _tree(copy / "samples") == before
    generate_run(copy, **{**GRID, "checkpoints": "best,last", "seconds": 2 * SECONDS})  # every cell at once: one length again


def test_smaller_n_refuses_to_delete_scored_clips_without_overwrite(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "scores").mkdir()
    paths = pd.read_csv(copy / "samples" / "manifest.csv")["path"]
    pd.DataFrame({"path": paths, "sha256": "x"}).to_csv(copy / "scores" / "clips.csv", index=False)
    before = _tree(copy / "samples")
    with pytest.raises(ConfigError, match=r"3 scored clip\(s\) would be replaced or deleted") as info:
        generate_run(copy, checkpoints="last", prime_ms="0", n=1, seconds=SECONDS, device="cpu")
    assert "--overwrite" in info.value.hint
    assert _tree(copy / "samples") == before
    generate_run(copy, checkpoints="last", prime_ms="0", n=1, seconds=SECONDS, device="cpu", overwrite=True)
    cell = copy / "samples" / "last" / "prime0"
    assert sorted(p.name for p in cell.iterdir()) == ["clip_0000.wav"]
    frame = pd.read_csv(copy / "samples" / "manifest.csv", keep_default_na=False)
    assert len(frame) == 18 - 2 and all((copy / p).is_file() for p in frame["path"])  # other cells kept, linked


def test_regenerating_clips_a_listener_tagged_is_refused_without_overwrite(run, tmp_path):
    """Scored clips were protected, tagged ones were not: a regenerated cell turned their tags stale unasked."""
    from benchbox.review.clips import build_review_set
    from benchbox.review.store import TagStore

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "scores", ignore_errors=True)
    review = build_review_set(copy)
    store = TagStore(review.db_path)
    store.add_clips(review.clips)
    first = next(c for c in review.clips if c.source.startswith("samples/last/prime0/"))
    store.record("alice", first.sha256, "useful")
    before = _tree(copy / "samples")
    with pytest.raises(ConfigError, match=r"clip\(s\) a listener tagged would be replaced or deleted"):
        generate_run(copy, checkpoints="last", prime_ms="0", n=1, seconds=SECONDS, device="cpu")
    assert _tree(copy / "samples") == before
    generate_run(copy, checkpoints="last", prime_ms="10", n=1, seconds=SECONDS, device="cpu")  # other cells: allowed


@pytest.mark.parametrize("generator", ["ngram", "lpc"])
def test_closed_form_generators_sample_unprimed_and_primed(tmp_path, generator):
    from benchbox.audio import load_audio
    from benchbox.train import train

    train(generator=generator, data=corpus(tmp_path / "ds"), out=tmp_path / "run", overrides=["train.baselines=false"], device="cpu")
    manifest = pd.read_csv(generate_run(tmp_path / "run", checkpoints="best", prime_ms=(0, 10), n=2, seconds=SECONDS, device="cpu"))
    assert len(manifest) == 4 and set(manifest["generator"]) == {generator}
    for path in manifest["path"]:
        wave = load_audio(tmp_path / "run" / path, RATE_HZ)
        assert wave.shape == (int(SECONDS * RATE_HZ),) and torch.isfinite(torch.as_tensor(wave)).all()


def test_clips_depend_on_the_seed_and_index_not_on_batch_or_n(run, tmp_path):
    """Each clip draws from its own generator: `--batch 4 --n 5` gives the same first 3 clips, byte
    for byte, as the fixture's `--batch 2 --n 3` (one stream per cell made them depend on both)."""
    import tomllib

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    generate_run(copy, **{**GRID, "n": 5, "batch": 4}, overwrite=True)
    clips = sorted((run / "samples").rglob("clip_*.wav"))
    assert len(clips) == 2 * 3 * 3
    for clip in clips:
        assert (copy / clip.relative_to(run)).read_bytes() == clip.read_bytes(), clip.relative_to(run)
    invocations = tomllib.loads((copy / "samples" / "generate_config.toml").read_text())["invocations"]
    assert [inv["randomness"] for inv in invocations.values()] == ["per-clip"]


def test_parse_prime_ms_takes_any_sequence_of_numbers():
    """A range or an array passed to generate_run was read as one value ("array([0, 10]) is not a number")."""
    import numpy as np

    from benchbox.generate import parse_prime_ms, parse_values

    assert parse_prime_ms(range(0, 30, 10)) == (0, 10, 20)
    assert parse_prime_ms(np.array([0, 40])) == (0, 40)
    assert parse_prime_ms(20) == (20,)
    assert parse_values(np.array([1.0, 0.95]), "--top-p") == (1.0, 0.95)
