"""``radvoice data synth --background PATH``: findings inserted into a user's own chest CT."""

from __future__ import annotations

import json

import pytest

from radvoice.cli.main import main as cli_main


@pytest.mark.realct
@pytest.mark.slow
def test_user_background_makes_cases_on_that_scan(real_ct_dir, tmp_path, capsys):
    scan = tmp_path / "my_normal_chest.nrrd"
    scan.write_bytes((real_ct_dir / "lung1_image.nrrd").read_bytes())
    out = tmp_path / "corpus"
    assert cli_main(["data", "synth", "--out", str(out), "--n", "2", "--background", str(scan)]) == 0
    cases = sorted((out / "cases").glob("*.json"))
    assert len(cases) == 2
    for c in cases:
        row = json.loads(c.read_text())
        assert row["background"] == "my_normal_chest"
        assert row["case_id"].endswith("_my_normal_chest")


@pytest.mark.realct
def test_held_out_and_unreadable_backgrounds_are_refused(real_ct_dir, tmp_path, capsys):
    bad = tmp_path / "notes.nrrd"
    bad.write_text("not a scan")
    for path, words in ((real_ct_dir / "lung2_image.nrrd", "held-out"), (bad, "cannot be read")):
        code = cli_main(["data", "synth", "--out", str(tmp_path / "c"), "--n", "1",
                         "--background", str(path)])  # fmt: skip
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and words in err[0]
    assert not (tmp_path / "c" / "cases").exists()
