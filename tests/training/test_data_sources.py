"""Where training data comes from is decided by the recipe and the data folder, never by what is on disk; and
hostile files fail in one line, in bounded time and memory."""

from __future__ import annotations

import resource
import time
import tracemalloc

import pytest

from mlctl_zoo.config.recipe import DataSpec
from mlctl_zoo.errors import DataError
from mlctl_zoo.training.data import load_labelled, load_parallel


def test_with_a_data_folder_a_missing_file_is_an_error_naming_the_path(tmp_path, monkeypatch):
    import datasets

    def no_hub(*a, **k):  # the hub must not be tried at all
        raise AssertionError("the hub was tried")

    monkeypatch.setattr(datasets, "load_dataset", no_hub)
    monkeypatch.setattr(datasets, "load_dataset_builder", no_hub)
    spec = DataSpec(parallel=[{"lang": "de", "path": "parallel/absent.tsv",
                               "hub": {"id": "org/talks", "split": "train"}}])
    with pytest.raises(DataError) as e:
        load_parallel(spec, tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "parallel/absent.tsv") in msg and "--data-dir" in msg and "\n" not in msg
    # an absolute path is read as is, data folder or not
    absolute = DataSpec(parallel=[{"lang": "de", "path": str(tmp_path / "gone.tsv"),
                                   "hub": {"id": "org/talks", "split": "train"}}])
    with pytest.raises(DataError, match="gone.tsv"):
        load_parallel(absolute, None)


def test_labelled_sources_follow_the_same_rule(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(AssertionError("hub")))
    monkeypatch.setattr(datasets, "load_dataset_builder", lambda *a, **k: (_ for _ in ()).throw(AssertionError("hub")))
    spec = DataSpec(parallel=[], labelled=[{"path": "xnli/dev-en.tsv", "hub": {"id": "org/nli", "split": "dev"}}])
    with pytest.raises(DataError, match=str(tmp_path / "xnli/dev-en.tsv")):
        load_labelled(spec, tmp_path)


def _sparse_file(path, size: int, fill: bytes = b"a") -> None:
    """A file of ``size`` bytes without a newline: sparse (no disk), read back as zeros after the first block."""
    with open(path, "wb") as f:
        f.write(fill * 4096)
        f.truncate(size)


@pytest.mark.parametrize("make", ["one_gb_line", "ten_million_columns"])
def test_huge_lines_fail_fast_in_bounded_memory(tmp_path, make):
    p = tmp_path / "parallel" / "deu-eng.tsv"
    p.parent.mkdir()
    if make == "one_gb_line":
        _sparse_file(p, 1 << 30)
    else:  # ten million columns: written lazily, 20 MB
        with open(p, "wb") as f:
            f.write(b"en\tde\n")
            chunk = b"x\t" * 100_000
            f.writelines(chunk for _ in range(100))
            f.write(b"\n")
    spec = DataSpec(parallel=[{"lang": "de", "path": "parallel/deu-eng.tsv"}])
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(DataError) as e:
        load_parallel(spec, tmp_path)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "longer than" in str(e.value) and str(p) in str(e.value) and len(str(e.value)) < 300
    assert elapsed < 5.0, elapsed
    assert peak < 64 << 20, peak  # a 1 GB line is never held
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 4 << 20  # KiB: the process stayed under 4 GB


def test_invalid_utf8_and_nul_bytes_are_counted_not_fatal(tmp_path):
    p = tmp_path / "deu-eng.tsv"
    p.write_bytes(b"Hello\tHallo\n\xff\xfe bad\tbytes\nNUL\x00here\tNUL\x00hier\nGood night\tGute Nacht\n")
    got = load_parallel(DataSpec(parallel=[{"lang": "de", "path": str(p)}]), None)
    assert len(got.pairs) == 3 and got.bad_counts() == {"bad_encoding": 1}
