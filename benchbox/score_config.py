"""The scorer's settings: :class:`ScoreConfig` (``--set detectors.<key>=value``), read from TOML and
the command line (:func:`load_score_config`), checked before anything is scored
(:func:`check_category_model`), where the embedding cache lives (:func:`cache_dir_of`), and the
settings a scores.json records (:func:`score_settings`). Split from :mod:`benchbox.score`, which
imports it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from benchbox import config as cfg
from benchbox.errors import ConfigError, MetricError
from benchbox.metrics import category
from benchbox.metrics.artifacts import DetectorConfig
from benchbox.metrics.verdict import VerdictConfig
from benchbox.score_distances import WEIGHTS_EMBEDDER

CACHE_ENV = "BENCHBOX_CACHE"


@dataclass(frozen=True)
class ScoreConfig:
    """Scoring knobs besides the CLI arguments. ``--set detectors.<key>=value``."""

    detectors: DetectorConfig = field(default_factory=DetectorConfig)
    verdict: VerdictConfig = field(default_factory=VerdictConfig)  # useful/auto = no flag AND a footstep (footstep/p)
    cache_dir: str = ""  # embedding cache; "" = $BENCHBOX_CACHE or ~/.cache/benchbox/embeddings
    diversity_max_clips: int = 512  # mean pairwise distance over at most this many clips (seeded subset)

    def __post_init__(self) -> None:
        if self.diversity_max_clips < 2:  # a pairwise distance needs two clips
            raise ValueError(f"diversity_max_clips must be >= 2, got {self.diversity_max_clips}")


def load_score_config(path: str | Path | None = None, overrides: list[str] | None = None, *, category_model: str | Path | None = None) -> ScoreConfig:
    """The score config from a TOML file and ``--set`` overrides; ``category_model`` (a model file, e.g. from
    ``benchbox category fit``) replaces ``verdict.category_model``. Either is recorded as an absolute path (a relative
    one against the working directory), so the scores' freshness does not depend on where it is checked from;
    ConfigError when both name a model and they differ."""
    from dataclasses import replace

    config = cfg.load(ScoreConfig, path, overrides)
    given = config.verdict.category_model
    absolute = str(Path(given).expanduser().resolve()) if given else ""
    if category_model is not None:
        chosen = str(Path(category_model).expanduser().resolve())
        if absolute and absolute != chosen:
            raise ConfigError(f"--category-model {category_model} and verdict.category_model={given} name different category models",
                              hint="give the model once: --category-model PATH (the same as --set verdict.category_model=PATH)")
        absolute = chosen
    return replace(config, verdict=replace(config.verdict, category_model=absolute))


def check_category_model(config: ScoreConfig, embedders: tuple[str, ...], weights: Path | None) -> None:
    """MetricError before anything is scored: ``weights`` that neither a scored embedder nor the category model uses,
    a category model that cannot be read, or whose embedder cannot be used (an unknown one, vggish without ``weights``)."""
    path = category.model_file(config.verdict.category_model)
    model = category.load_model(path)
    if weights is not None and WEIGHTS_EMBEDDER not in embedders and model.embedder != WEIGHTS_EMBEDDER:
        raise MetricError(f"--weights is for the {WEIGHTS_EMBEDDER} embedder, which is not among {list(embedders)}", hint=f"add it: --embedder {','.join([*embedders, WEIGHTS_EMBEDDER])}")
    if model.embedder and (model.embedder not in embedders or model.embedder == WEIGHTS_EMBEDDER):
        category.check_embedder(model, path, weights=weights)


def cache_dir_of(config: ScoreConfig) -> Path:
    """Where embeddings are cached (by content hash, so sharing it between runs is safe)."""
    root = config.cache_dir or os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "benchbox" / "embeddings")
    return Path(root).expanduser()


def score_settings(config: ScoreConfig) -> dict:
    """The resolved settings that decide a score's numbers (detector thresholds, verdict,
    diversity subset; not the cache folder): recorded in scores.json, so boards can tell
    runs scored alike from runs that were not."""
    from dataclasses import asdict

    return {"detectors": asdict(config.detectors), "verdict": asdict(config.verdict), "diversity_max_clips": config.diversity_max_clips}
