import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from tests.train_helpers import corpus, tiny_run

runner = CliRunner()
FAST = ["--n", "2", "--batch", "2", "--seconds", "0.016", "--prime-ms", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gencli")
    tiny_run(root / "run", corpus(root / "ds", n=12), "wavenet", 1)
    return root / "run"


def test_generate_grid_json(run):
    r = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "last", "--prime-ms", "0,5", "--top-p", "0.9", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["format"], summary["command"], summary["out"]) == (1, "generate", str(run / "samples"))
    frame = pd.read_csv(summary["manifest"], keep_default_na=False)
    assert summary["clips_in_manifest"] == len(frame) == 4
    assert set(frame["prime_ms"]) == {0, 5} and set(frame["top_p"]) == {0.9}
    assert all((run / p).is_file() for p in frame["path"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--prime-ms", "-10"], "error: --prime-ms value '-10'"),
        (["--prime-ms", "0,abc"], "error: --prime-ms value 'abc' is not a number"),
        (["--prime-ms", "20"], "not shorter than"),
        (["--prime-ms", "0,0"], "error: --prime-ms lists 0 more than once"),
        (["--prime-ms", "10,,20"], "error: --prime-ms '10,,20' has an empty item"),
        (["--top-p", "0"], "error: --top-p must be in (0, 1]"),
        (["--top-p", "nan"], "error: --top-p must be in (0, 1], got nan"),
        (["--temperature", "inf"], "error: --temperature must be a finite number >= 0, got inf"),
        (["--temperature", "1.0,nan"], "error: --temperature must be a finite number >= 0, got nan"),
        (["--temperature", "-0.5"], "error: --temperature must be a finite number >= 0, got -0.5"),
        (["--threads", "-1"], "error: --threads must be >= 1, or 0 for torch's default; got -1"),
        (["--checkpoint", "best,missing"], "error: checkpoint not found"),
        (["--checkpoint", "missing.pt"], "missing.pt\nhint: this run has best, last: e.g. --checkpoint best,last"),
        (["--checkpoint", "../x"], "error: bad --checkpoint list"),
    ],
    ids=["negative-prime", "non-numeric-prime", "prime-too-long", "duplicate-prime", "empty-prime-item", "top-p-zero", "top-p-nan", "temperature-inf", "temperature-nan", "temperature-negative",
         "negative-threads", "missing-ckpt", "missing-ckpt-hint", "path-ckpt"],
)
def test_bad_input_is_one_error_line(run, args, message):
    before = sorted(p.name for p in (run / "samples").rglob("*")) if (run / "samples").exists() else []
    r = runner.invoke(app, ["generate", str(run), *FAST, *args])
    assert r.exit_code == 1, r.output
    assert message in r.output and "hint:" in r.output and "Traceback" not in r.output
    after = sorted(p.name for p in (run / "samples").rglob("*")) if (run / "samples").exists() else []
    assert after == before


def test_a_checkpoint_named_as_its_file_is_that_checkpoint(run):
    """--checkpoint last.pt looked for ckpt/last.pt.pt."""
    r = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "last.pt, best.pt,last", "--json"])
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(json.loads(r.stdout)["manifest"], keep_default_na=False)
    assert {"samples/best/prime0/clip_0000.wav", "samples/last/prime0/clip_0000.wav"} <= set(frame["path"])
    assert set(frame["checkpoint"]) == {"best", "last"}  # never 'last.pt'


@pytest.mark.parametrize("broken", ["drop-prime_ms", "empty"])
def test_a_manifest_missing_a_column_is_refused_not_dropped(tmp_path_factory, broken):
    """generate kept no row of a manifest that lacked a column (or could not be read): the clips of every
    cell it did not regenerate fell out of the new manifest, silently."""
    root = tmp_path_factory.mktemp("genmanifest")
    run = tiny_run(root / "run", corpus(root / "ds", n=12), "wavenet", 1).out
    r = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "best", "--quiet"])
    assert r.exit_code == 0, r.output
    manifest = run / "samples" / "manifest.csv"
    if broken == "empty":
        manifest.write_text("")
    else:
        pd.read_csv(manifest).drop(columns=["prime_ms"]).to_csv(manifest, index=False)
    before = manifest.read_bytes()
    r = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "last"])
    assert r.exit_code == 1, r.output
    message = "missing column(s) prime_ms" if broken != "empty" else "unreadable"
    assert f"error: {manifest}: {message}" in r.output and "hint: restore" in r.output and "Traceback" not in r.output
    assert manifest.read_bytes() == before and not (run / "samples" / "last").exists()


def test_run_folder_that_is_not_a_run(tmp_path):
    r = runner.invoke(app, ["generate", str(tmp_path), *FAST])
    assert r.exit_code == 1 and "error:" in r.output and "not a training run" in r.output


def test_ctrl_c_prints_one_interrupted_line_and_exits_130(run, monkeypatch):
    import benchbox.generate

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchbox.generate, "generate_run", ctrl_c)
    r = runner.invoke(app, ["generate", str(run), *FAST])
    assert r.exit_code == 130, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("interrupted:")]
    assert len(lines) == 1 and "samples is unchanged" in lines[0] and "run the same command again" in lines[0]


def test_generate_config_records_every_contributing_invocation(tmp_path_factory):
    import tomllib

    root = tmp_path_factory.mktemp("gencfg")
    run = tiny_run(root / "run", corpus(root / "ds", n=12), "wavenet", 1).out
    for primes in ("0", "5", "0"):  # the third regenerates the first's cell: the first no longer contributes
        r = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "last", "--prime-ms", primes, "--quiet"])
        assert r.exit_code == 0, r.output
    cfg = tomllib.loads((run / "samples" / "generate_config.toml").read_text())
    assert cfg["prime_ms"] == [0]  # the latest settings stay at the top level
    assert [inv["cells"] for _, inv in sorted(cfg["invocations"].items())] == [["last/prime5"], ["last/prime0"]]
    manifest = pd.read_csv(run / "samples" / "manifest.csv")
    assert sorted(set(manifest["prime_ms"])) == [0, 5]


def test_generate_from_a_dataset_says_it_is_a_dataset(tmp_path):
    data = corpus(tmp_path / "ds", n=12)
    r = runner.invoke(app, ["generate", str(data), *FAST])
    assert r.exit_code == 1 and "is a dataset, not a training run" in r.output and "benchbox train" in r.output


def test_clips_off_the_datasets_length_are_generated_with_a_warning(run, tmp_path):
    """Clips shorter than the dataset's were scored without a word, and the verdict collapses on them."""
    from benchbox.data.dataset import load_dataset
    from benchbox.train_config import CONFIG_NAME
    from benchbox.config import load_toml

    ds = load_dataset(load_toml(run / CONFIG_NAME)["data"]["path"])
    r = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "last", "--json"])
    assert r.exit_code == 0, r.output
    (warning,) = json.loads(r.stdout)["warnings"]
    assert f"clips of 256 samples (0.016 s) against the run's dataset's {ds.clip_samples}" in warning
    import shutil

    fresh = tmp_path / "run"  # the module's run holds other cells at 256 samples; one run never mixes lengths
    shutil.copytree(run, fresh, ignore=shutil.ignore_patterns("samples", ".samples-partial", "scores"))
    seconds = ds.clip_samples / ds.sample_rate_hz
    same = runner.invoke(app, ["generate", str(fresh), *FAST, "--seconds", f"{seconds}", "--checkpoint", "last", "--json"])
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["warnings"] == []
    printed = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "last", "--overwrite"])  # the line a user reads
    assert printed.exit_code == 0, printed.output
    assert "warning: clips of 256 samples" in printed.stderr and f"--seconds {seconds:.10g}" in printed.stderr


def test_json_mode_still_prints_its_warnings_on_stderr(run):
    """`generate --json 2>err` left err empty: the warnings were only in the JSON, unlike score's and import's."""
    r = runner.invoke(app, ["generate", str(run), *FAST, "--checkpoint", "last", "--json"])
    assert r.exit_code == 0, r.output
    (warning,) = json.loads(r.stdout)["warnings"]  # stdout holds the JSON object alone
    assert [line for line in r.stderr.splitlines() if line.startswith("warning:")] == [f"warning: {warning}"]
