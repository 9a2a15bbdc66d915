import pandas as pd


def test_report_html_renders_tables(tmp_path):
    from benchbox.report import _html

    text = "# Title\n\n| a | b |\n|---|---|\n| 1 | <x> |\n\nplain"
    page = _html(tmp_path, text, pd.DataFrame())
    assert "<table>" in page and "<th>a</th>" in page and "<td>&lt;x&gt;</td>" in page
    assert "<h1>Title</h1>" in page and "http" not in page
