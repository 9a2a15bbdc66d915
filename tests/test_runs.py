import numpy as np
import pytest

from benchbox import runs


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "a.txt"
    runs.atomic_write_text(path, "old")
    with pytest.raises(RuntimeError):
        with runs.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_audio_hash_depends_on_content_not_name():
    a = np.zeros(10, dtype=np.float32)
    b = a.copy()
    b[3] = 0.1
    assert runs.sha256_audio(a, 16000) == runs.sha256_audio(a.copy(), 16000)
    assert runs.sha256_audio(a, 16000) != runs.sha256_audio(b, 16000)
    assert runs.sha256_audio(a, 16000) != runs.sha256_audio(a, 22050)


def test_run_info(tmp_path):
    runs.write_run_info(tmp_path, {"train": {"lr": 0.1}})
    assert "[train]" in (tmp_path / "config.toml").read_text()
    assert "torch" in (tmp_path / "versions.json").read_text()


def test_staged_dir_publishes_whole_or_not_at_all(tmp_path):
    from benchbox.runs import ASIDE_SUFFIX, recover_dir, staged_dir

    target = tmp_path / "scores"
    target.mkdir()
    (target / "old.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with staged_dir(target) as stage:
            (stage / "new.csv").write_text("new")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["scores"]  # no staging left behind
    assert [p.name for p in target.iterdir()] == ["old.csv"] and (target / "old.csv").read_text() == "old"
    with staged_dir(target) as stage:
        (stage / "new.csv").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.csv"] and [p.name for p in tmp_path.iterdir()] == ["scores"]
    # a hard kill between the swap's two renames leaves only the old version aside: put it back
    aside = tmp_path / f".scores{ASIDE_SUFFIX}"
    target.rename(aside)
    recover_dir(target)
    assert (target / "new.csv").read_text() == "new" and not aside.exists()


def test_publish_files_writes_all_or_none(tmp_path):
    from benchbox.runs import publish_files

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.md").write_text("old b")
    with pytest.raises(TypeError):
        publish_files({tmp_path / "a.csv": "new a", tmp_path / "b.md": 123})  # the second cannot be written
    assert (tmp_path / "a.csv").read_text() == "old a" and (tmp_path / "b.md").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.md"]
    publish_files({tmp_path / "a.csv": "new a", tmp_path / "b.md": b"new b"})
    assert (tmp_path / "a.csv").read_text() == "new a" and (tmp_path / "b.md").read_text() == "new b"


def test_replace_marked_section_keeps_the_marks_and_the_rest(tmp_path):
    import pytest

    from benchbox.runs import replace_marked_section

    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- a -->\nold table\n<!-- b -->\noutro\n")
    replace_marked_section(doc, "new table", "<!-- a -->", "<!-- b -->")
    assert doc.read_text() == "intro\n<!-- a -->\nnew table\n<!-- b -->\noutro\n"
    with pytest.raises(ValueError, match="needs"):
        replace_marked_section(doc, "x", "<!-- missing -->", "<!-- b -->")


def test_text_with_an_undecodable_file_name_is_written_escaped(tmp_path):
    import os

    path = runs.atomic_write_text(tmp_path / "names.csv", f"file\n{os.fsdecode(b'caf' + bytes([0xE9]))}.wav\n")  # was a UnicodeEncodeError
    assert path.read_text(encoding="utf-8") == "file\ncaf\\udce9.wav\n"


def _disk_full_after(monkeypatch, writes: int):
    """Make the (writes + 1)-th fsync fail with ENOSPC, as a full disk does."""
    import errno
    import os

    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_is_a_storage_error_naming_the_file_and_the_old_version_stays(tmp_path, monkeypatch):
    from benchbox.errors import StorageError

    path = runs.atomic_write_text(tmp_path / "scores.csv", "old\n")
    _disk_full_after(monkeypatch, 0)
    with pytest.raises(StorageError, match=f"cannot write {path}: No space left on device") as info:
        runs.atomic_write_text(path, "new\n")
    assert "disk is full" in info.value.hint
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]
    with pytest.raises(StorageError, match="cannot write"):
        runs.publish_files({tmp_path / "a.md": "a", tmp_path / "scores.csv": "new"})
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_a_full_disk_inside_a_staged_folder_names_the_published_path_and_leaves_no_staging(tmp_path, monkeypatch):
    from benchbox.errors import StorageError

    target = tmp_path / "ds"
    with runs.staged_dir(target) as stage:
        runs.atomic_write_text(stage / "a.txt", "old")
    _disk_full_after(monkeypatch, 1)
    with pytest.raises(StorageError, match=f"cannot write {target}/clips/b.txt: No space left"):
        with runs.staged_dir(target) as stage:
            runs.atomic_write_text(stage / "a.txt", "new")
            runs.atomic_write_text(stage / "clips" / "b.txt", "new")
    assert [p.name for p in tmp_path.iterdir()] == ["ds"] and (target / "a.txt").read_text() == "old"


def test_versions_record_the_commit_and_the_hardware():
    """Floating-point results differ between CPUs: versions.json named neither the commit nor the CPU/BLAS."""
    info = runs.versions()
    assert {"git_commit", "cpu", "cpu_count", "gpu", "blas"} <= set(info)
    assert all(isinstance(v, str) and v for v in info.values())
    assert info["git_commit"] == "unknown" or len(info["git_commit"].split("+")[0]) == 40 or "not a git checkout" in info["git_commit"]


def test_a_resumed_invocation_records_its_versions_beside_the_first(tmp_path):
    runs.write_run_info(tmp_path, {"train": {"lr": 0.1}})
    (tmp_path / "versions.json").write_text('{"torch": "first"}')
    assert runs.write_run_info(tmp_path, {"train": {"lr": 0.1}}, resumed=True) == tmp_path / "versions-resume-1.json"
    assert runs.write_versions(tmp_path, resumed=True) == tmp_path / "versions-resume-2.json"
    assert (tmp_path / "versions.json").read_text() == '{"torch": "first"}'
    assert "torch" in (tmp_path / "versions-resume-2.json").read_text()
