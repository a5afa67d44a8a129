"""``radvoice library ...`` and ``radvoice search``: JSON shape, library folder choice, errors."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest
import soundfile as sf
from test_library_support import HashEmbedder, labels_for, make_volume, report_for

from radvoice.cli.main import main
from radvoice.imaging import write_volume
from radvoice.labels import PATHOLOGIES
from radvoice.library import embedder as embedder_module
from radvoice.library.demo import synthetic_generator
from radvoice.library.errors import LibraryError, ModelsUnavailableError
from radvoice.library.paths import ENV_VAR, default_library_dir, resolve_library_dir


@pytest.fixture
def test_models(monkeypatch):
    emb = HashEmbedder()
    monkeypatch.setattr(embedder_module, "load_shipped_embedder", lambda: emb)
    return emb


@pytest.fixture
def volumes(tmp_path):
    """Four NIfTI files and a CT-RATE style reports CSV with label columns."""
    folder = tmp_path / "vols"
    rows = []
    for s in range(4):
        vol = make_volume(s)
        vol.meta.clear()  # NIfTI has no UIDs: the content hash identifies the series
        write_volume(vol, folder / f"case_{s}.nii.gz")
        rows.append({"VolumeName": f"case_{s}.nii.gz", "Findings_EN": report_for(s),
                     "Impressions_EN": "", **dict(zip(PATHOLOGIES, labels_for(s), strict=True))})  # fmt: skip
    reports = tmp_path / "reports.csv"
    with open(reports, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder, reports


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_add_search_stats_remove(tmp_path, volumes, test_models, capsys):
    folder, reports = volumes
    lib = str(tmp_path / "lib")
    assert main(["library", "add", str(folder), "--reports", str(reports), "--library", lib,
                 "--quiet"]) == 0  # fmt: skip
    assert "added 4" in capsys.readouterr().out
    # resumable / idempotent: nothing new the second time
    assert main(["library", "--library", lib, "add", str(folder), "--quiet"]) == 0
    assert "added 0, already in 4" in capsys.readouterr().out

    assert main(["search", "--text", report_for(2), "--library", lib, "-k", "3", "--json"]) == 0
    out = _json(capsys)
    assert list(out) == ["results"] and len(out["results"]) == 3
    first = out["results"][0]
    assert set(first) == {"case_id", "score", "labels", "report"}
    assert first["report"] == report_for(2)
    assert first["labels"] == [p for p, v in zip(PATHOLOGIES, labels_for(2), strict=True) if v]
    assert isinstance(first["case_id"], int) and -1.0 <= first["score"] <= 1.0

    assert main(["library", "stats", "--library", lib, "--json"]) == 0
    stats = _json(capsys)
    assert stats["cases"] == 4 and stats["model"]["name"] == "test-hash"
    assert stats["indexes"]["ct"]["up_to_date"] and stats["indexes"]["ct"]["kind"] == "flat"

    assert main(["library", "remove", str(first["case_id"]), "--library", lib]) == 0
    capsys.readouterr()
    assert main(["search", "--text", report_for(2), "--library", lib, "--json"]) == 0
    assert first["case_id"] not in [r["case_id"] for r in _json(capsys)["results"]]
    assert main(["library", "reindex", "--library", lib]) == 0


def test_search_by_volume_and_audio(tmp_path, volumes, test_models, capsys):
    folder, reports = volumes
    lib = str(tmp_path / "lib")
    main(["library", "add", str(folder), "--reports", str(reports), "--library", lib, "--quiet"])
    capsys.readouterr()
    assert main(["search", "--volume", str(folder / "case_1.nii.gz"), "--library", lib,
                 "--json"]) == 0  # fmt: skip
    assert _json(capsys)["results"][0]["report"] == report_for(1)
    wav = tmp_path / "q.wav"
    sf.write(wav, np.sin(np.linspace(0, 300, 44100)).astype(np.float32), 44100)
    assert main(["search", "--audio", str(wav), "--library", lib, "-k", "2", "--json"]) == 0
    assert len(_json(capsys)["results"]) == 2
    assert main(["search", "--text", "pleural effusion", "--library", lib]) == 0
    assert "score" in capsys.readouterr().out


def test_environment_variable_and_option_choose_the_library(tmp_path, volumes, test_models,
                                                             monkeypatch, capsys):  # fmt: skip
    folder, _reports = volumes
    env_lib, opt_lib = tmp_path / "env_lib", tmp_path / "opt_lib"
    monkeypatch.setenv(ENV_VAR, str(env_lib))
    assert resolve_library_dir() == env_lib and resolve_library_dir(opt_lib) == opt_lib
    assert main(["library", "add", str(folder / "case_0.nii.gz"), "--quiet"]) == 0
    assert (env_lib / "library.sqlite").exists() and not opt_lib.exists()
    assert main(["library", "add", str(folder), "--library", str(opt_lib), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["library", "stats", "--json"]) == 0
    assert _json(capsys)["cases"] == 1
    assert main(["library", "stats", "--json", "--library", str(opt_lib)]) == 0
    assert _json(capsys)["cases"] == 4
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_library_dir() == tmp_path / "xdg" / "radvoice" / "library"
    assert resolve_library_dir() == default_library_dir()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "--audio", "{tmp}/not_audio.wav"], "cannot read not_audio.wav"),
        (["search", "--audio", "{tmp}/missing.wav"], "not found"),
        (["search", "--volume", "{tmp}/missing.nii.gz"], "no such file"),
        (["search", "--text", "  "], "--text is empty"),
        (["search", "--text", "effusion", "-k", "0"], "-k must be at least 1"),
        (["search", "--text", "effusion", "--library", "{tmp}/nolib"], "no case library"),
        (["library", "stats", "--library", "{tmp}/nolib"], "no case library"),
        (["library", "add", "{tmp}/missing.nii.gz"], "no such file"),
        (["library", "remove", "12345"], "no case with id 12345"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, test_models, capsys, monkeypatch, argv,
                                         message):  # fmt: skip
    (tmp_path / "not_audio.wav").write_text("hello")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "envlib"))
    from radvoice.library.library import CaseLibrary

    CaseLibrary(tmp_path / "envlib").close()
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("radvoice: error:") and message in err[0], err


def test_empty_library_and_missing_models_are_explained(tmp_path, monkeypatch, capsys):
    lib = tmp_path / "lib"
    from radvoice.library.library import CaseLibrary

    CaseLibrary(lib).close()
    assert main(["search", "--text", "effusion", "--library", str(lib)]) == 2
    assert "is empty" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "radvoice.nn.pipeline", None)  # as if not shipped
    with pytest.raises(ModelsUnavailableError, match="not shipped yet"):
        embedder_module.load_shipped_embedder()
    try:
        synthetic_generator()
        expected = "not shipped yet"
    except LibraryError:
        expected = "generate_case) is not available"
    assert main(["library", "build-demo", "--library", str(lib), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0]
