import math

from benchbox.labels import group_label
from benchbox.score import group_key


def _row(generator, quantisation, dropout, **sampling):
    values = {"generator": generator, "quantisation": quantisation, "dropout": dropout, "checkpoint": "best", "prime_ms": 0,
              "temperature": math.nan, "top_p": math.nan, "sampling_steps": math.nan, **sampling}
    return {**values, "group": group_key(values)}


def test_the_label_leaves_out_the_axes_a_generator_without_codes_lacks():
    assert _row("specdiff", "mulaw", 0.1, sampling_steps=50.0)["group"] == "specdiff/mulaw/0.1/best/0///50"
    assert group_label(_row("specdiff", "mulaw", 0.1, sampling_steps=50.0)) == "specdiff/best/0///50"
    assert group_label(_row("diffwave", "mulaw", 0.0, sampling_steps=25.0)) == "diffwave/best/0///25"
    assert group_label(_row("wavegan", "mulaw", 0.0)) == "wavegan/best/0"


def test_autoregressive_reference_and_external_rows_keep_their_key():
    for row in (_row("sashimi", "mulaw", 0.5, temperature=1.0, top_p=0.95), _row("wavenet", "linear", 0.0), _row("ngram", "mulaw", 0.0)):
        assert group_label(row) == row["group"]
    assert group_label(_row("sashimi", "mulaw", 0.5, top_p=0.95)) == "sashimi/mulaw/0.5/best/0//0.95"
    assert group_label({"group": "floor", "generator": math.nan}) == "floor"
    assert group_label(_row("my-folder-of-clips", "", math.nan)) == "my-folder-of-clips///best/0"  # not a registered generator
    assert group_label({**_row("specdiff", "mulaw", 0.1), "group": "odd"}) == "odd"  # a key formed otherwise


def test_the_leaderboard_pages_show_the_label_and_keep_the_key_in_the_csv_columns():
    import pandas as pd

    from benchbox.leaderboard_render import render_markdown

    rows = [_row("specdiff", "mulaw", 0.1, sampling_steps=50.0), _row("sashimi", "mulaw", 0.0)]
    table = pd.DataFrame([{"rank": i + 1, "kind": "generated", "run": r["generator"], "n": 32, **r} for i, r in enumerate(rows)])
    md = render_markdown(table, "aisfx", [])
    assert "| specdiff/best/0///50 |" in md and "| sashimi/mulaw/0/best/0 |" in md and "specdiff/mulaw" not in md
