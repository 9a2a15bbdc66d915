import re

import pandas as pd

from benchbox.study.questions import PRIMED_USEFUL_CAVEAT, primed_useful_lines


def test_the_primed_caveat_quotes_no_rate_of_its_own():
    # The real clips' rates per prime come from each study's floor row (the table's last column);
    # a percentage written into the caveat went stale when the verdict changed (scorer version 14).
    assert not re.search(r"\d+(\.\d+)?\s*%", PRIMED_USEFUL_CAVEAT)
    assert "last column" in PRIMED_USEFUL_CAVEAT


def test_primed_useful_lines_put_the_real_rate_cut_at_each_prime_beside_the_generated_one():
    table = pd.DataFrame({"prime_ms": [0, 20], "rate": [0.5, 0.25], "lo": [0.3, 0.1], "hi": [0.7, 0.5], "k": [8, 4], "n": [16, 16]})
    lines = primed_useful_lines(table, {0: (33, 41), 20: None})  # (useful clips, n)
    assert len(lines) == 4 and "80.5%" in lines[2] and lines[3].rstrip(" |").endswith("-")
