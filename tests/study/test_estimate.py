from pathlib import Path

from benchbox.study.estimate import estimate_protocol
from benchbox.study.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[2]


def test_estimate_times_the_presets_of_extra_runs_too():
    extra = ['presets=["wavenet-tiny"]', 'extra=[{preset="sashimi-tiny", quantisation="linear", normalise="minmax"}]', "train.max_steps=5"]
    stages = estimate_protocol(load_protocol(ROOT / "protocols" / "quickstart.toml", overrides=extra))["stages"]
    assert stages["train/sashimi-tiny_linear_do0_minmax"] > 0 and stages["train/wavenet-tiny_mulaw_do0"] > 0
