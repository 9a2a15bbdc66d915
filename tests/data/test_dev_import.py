import pandas as pd
import pytest

from benchbox.data.importer import import_folder


@pytest.mark.slow
def test_dev_recordings_import(dev_data, tmp_path):
    result = import_folder(dev_data, tmp_path / "dev")
    sources = pd.read_csv(dev_data / "manifest.csv")
    m = pd.read_csv(tmp_path / "dev" / "manifest.csv", keep_default_na=False)
    assert result.sources + result.rejected >= len(sources) and result.sources >= 0.9 * len(sources)
    assert result.clips > result.sources  # the loops hold several steps each
    assert all(result.per_split[s] > 0 for s in ("train", "val", "test"))
    assert (m.groupby("source")["split"].nunique() == 1).all()
    # labels read from names agree with the surfaces the collection lists
    want = dict(zip(sources["file"], sources["surface"].str.replace("(loop)", "", regex=False)))
    got = m.drop_duplicates("source").set_index("source")["label"]
    agree = sum(got[f] == want[f] for f in got.index)
    assert agree >= 0.9 * len(got)
