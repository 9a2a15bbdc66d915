"""Where a run's clips come from: the checkpoint file each was generated from, and the dataset it trained on.

``samples/manifest.csv`` records each clip's ``checkpoint`` (``best``, ``last``) and the
SHA-256 of that checkpoint file when it was sampled (``checkpoint_sha256``). A run trained
further (``train --resume``) or retrained rewrites ``ckpt/<name>.pt``, and its clips then
describe a checkpoint that no longer exists: scoring them measures the old model, and the
leaderboard leaves such scores out as stale (:mod:`benchbox.freshness`).

A run trained on the dataset its ``config.toml`` names (``data.path``), whose content
fingerprint ``data_fingerprint.json`` records (:mod:`benchbox.data.fingerprint`). Scored
against another dataset, its memorisation and nearest-training-clip figures compare the clips
with a train split the model never saw (:func:`other_dataset_note`); so does the same folder
replaced or edited in place since, which the recorded fingerprint tells apart.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchbox.errors import BenchboxError
from benchbox.runs import sha256_file

SAMPLES_MANIFEST = Path("samples") / "manifest.csv"
GENERATE_CONFIG = Path("samples") / "generate_config.toml"
# generate_config.toml key -> `benchbox generate` option, in the CLI's order (lists are comma-separated)
GENERATE_OPTIONS = (("checkpoints", "--checkpoint"), ("prime_ms", "--prime-ms"), ("n", "--n"), ("seconds", "--seconds"),
                    ("temperature", "--temperature"), ("top_p", "--top-p"), ("sampling_steps", "--sampling-steps"),
                    ("batch", "--batch"), ("seed", "--seed"), ("device", "--device"))


def changed_checkpoint(root: str | Path) -> str | None:
    """The name of the first checkpoint (``best``) whose ``ckpt/<name>.pt`` on disk no longer hashes
    to the ``checkpoint_sha256`` its clips were generated from; None when every checkpoint on disk
    matches, is absent (a fresh checkout keeps no weights), or the manifest records no hash."""
    manifest = Path(root) / SAMPLES_MANIFEST
    if not manifest.is_file():
        return None
    try:
        table = pd.read_csv(manifest, usecols=["checkpoint", "checkpoint_sha256"], dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None  # older manifests without the columns: nothing to compare
    now: dict[str, str | None] = {}  # checkpoint name -> its file's hash (each file read once)
    for name, sha in table.drop_duplicates().itertuples(index=False):
        if name not in now:
            path = Path(root) / "ckpt" / f"{name}.pt"
            now[name] = sha256_file(path) if path.is_file() else None
        if sha and now[name] is not None and now[name] != sha:
            return name
    return None


def checkpoint_reason(root: str | Path) -> str | None:
    """Why a run's clips no longer come from its checkpoints (:func:`changed_checkpoint`), or None."""
    name = changed_checkpoint(root)
    return None if name is None else f"ckpt/{name}.pt changed since its clips were generated (trained further or retrained)"


def retrained_note(root: str | Path) -> str | None:
    """``score``'s warning for a run whose clips came from a checkpoint file that has since changed; None when none did."""
    reason = checkpoint_reason(root)
    return None if reason is None else (
        f"{root}: {reason}: these scores describe clips of a checkpoint that is no longer on disk, and the leaderboard "
        f"leaves them out as stale; regenerate the clips ({regenerate_text(root)}), then score again")


def regenerate_commands(root: str | Path) -> list[str]:
    """The ``benchbox generate ... --overwrite`` command(s) that remake run ``root``'s clips with the
    options ``samples/generate_config.toml`` records: one per invocation whose cells are still in the
    manifest, oldest first (run in that order, later ones replace the cells they share, as they did).
    Without a readable record, the bare command (generate's defaults are then a guess)."""
    import shlex

    from benchbox.config import load_toml

    run = shlex.quote(str(root))
    try:
        record = load_toml(Path(root) / GENERATE_CONFIG)
    except (BenchboxError, OSError, ValueError):
        return [f"benchbox generate {run} --overwrite"]
    listed = record.get("invocations") or {}
    invocations = [listed[k] for k in sorted(listed, key=int)] if listed else [record]
    commands = []
    for inv in invocations:
        options = "".join(f" {flag} {shlex.quote(_option_value(inv[key]))}" for key, flag in GENERATE_OPTIONS if key in inv)
        commands.append(f"benchbox generate {run}{options} --overwrite")
    return list(dict.fromkeys(commands))


def regenerate_text(root: str | Path) -> str:
    """:func:`regenerate_commands` as hint text: each command in backticks, joined by ", then "."""
    return ", then ".join(f"`{c}`" for c in regenerate_commands(root))


def _option_value(value: object) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def other_dataset_note(root: str | Path, reference: str | Path, trained: str | Path | None) -> str | None:
    """A warning when ``reference`` is not the dataset run ``root`` trained on (``trained``: its
    config.toml's ``data.path``); None when it is, or nothing records which one that was.

    The same folder, or one whose ``manifest.csv`` is the training folder's byte for byte (a copy),
    is the same dataset, unless its content fingerprint under the run's data settings is not the one
    ``data_fingerprint.json`` records (the folder was replaced or edited in place since). When the
    training folder is gone, that fingerprint alone decides."""
    if trained is None:
        return None
    ref, trained = Path(reference), Path(trained)
    if ref.resolve() == trained.resolve() or _same_manifest(ref, trained):
        if _same_fingerprint(Path(root), ref) is False:
            return (f"{ref} changed since {root} trained on it (its content fingerprint is not the one data_fingerprint.json "
                    f"records; replaced or edited in place): memorisation and the nearest training clip compare its clips "
                    f"with a train split the model never saw; score against the data it trained on, or retrain on {ref}")
        return None
    why = ""
    if not (trained / "manifest.csv").is_file():
        same = _same_fingerprint(Path(root), ref)
        if same:
            return None
        why = ", no longer there" + ("; its content fingerprint is not the one data_fingerprint.json records" if same is False else "")
    fix = "pass --reference the dataset it trained on" if why else f"drop --reference to score against {trained}"
    return (f"--reference {ref} is not the dataset {root} trained on ({trained}, per its config.toml{why}): memorisation and the "
            f"nearest training clip compare its clips with the train split of {ref}, which the model never saw; {fix}")


def _same_manifest(a: Path, b: Path) -> bool:
    try:
        return sha256_file(a / "manifest.csv") == sha256_file(b / "manifest.csv")
    except OSError:
        return False


def _same_fingerprint(root: Path, ref: Path) -> bool | None:
    """Whether ``ref`` holds the content the run recorded training on (loaded with its data settings);
    None when the run recorded no fingerprint or ``ref`` cannot be loaded as it trained."""
    from dataclasses import replace

    from benchbox.config import from_dict, load_toml
    from benchbox.data import fingerprint
    from benchbox.data.batches import load_clips
    from benchbox.train_config import DataConfig

    recorded = (fingerprint.recorded(root) or {}).get("fingerprint")
    if not recorded:
        return None
    try:
        data = replace(from_dict(DataConfig, load_toml(root / "config.toml").get("data", {}), where="data."), path=ref)
        return fingerprint.content_fingerprint(load_clips(data)) == recorded
    except (BenchboxError, OSError, ValueError):
        return None
