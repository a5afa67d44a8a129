"""Turn ``--data`` into :class:`TrainingCase` lists.

Accepted forms:

* ``toy:N`` — :mod:`radvoice.training.toy` cases (smoke runs);
* ``synthetic:N`` — N cases from :func:`radvoice.data.generate_case` (seeds from the config),
  generated on the fly (grid volumes are cached, so each case is generated once);
* a corpus folder written by ``radvoice data synth`` (``manifest.jsonl``);
* a CT-RATE download (``dataset/train``, ``dataset/valid`` + CSVs).

Splits: a source's own split (corpus) is kept; cases without one get a deterministic train/val
split; CT-RATE ``valid`` becomes ``test`` (the CT-CLIP protocol evaluates on it).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.errors import RadVoiceError
from radvoice.training.cases import TrainingCase, assign_splits
from radvoice.training.config import DataSettings

log = logging.getLogger(__name__)


class DataSourceError(RadVoiceError):
    """``--data`` does not name a usable data source."""


def _count(spec: str, prefix: str) -> int:
    try:
        n = int(spec[len(prefix) :])
    except ValueError:
        raise DataSourceError(f"--data {spec}: expected {prefix}N with an integer N") from None
    if n < 2:
        raise DataSourceError(f"--data {spec}: need at least 2 cases")
    return n


def _data_attr(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise DataSourceError(f"{module}.{name} is not available in this installation") from None


def synthetic_records(
    n: int,
    seed: int,
    on_volume: Callable[[TrainingCase, Any], None] | None = None,
    index_file: Path | None = None,
) -> list[TrainingCase]:
    """On-the-fly cases: text and labels are kept, the volume is regenerated (deterministic by
    seed) when the grid cache first needs it, so no volume stays in memory. ``on_volume``
    (e.g. :meth:`GridCache.put`) sees each volume while it is in hand, saving a regeneration.
    ``index_file`` (JSONL) remembers id, report and labels so a restart skips regeneration."""
    try:
        generate_case = _data_attr("radvoice.data", "generate_case")
    except DataSourceError:
        generate_case = _data_attr("radvoice.data.synth", "generate_case")
    known = read_synthetic_index(index_file, seed) if index_file is not None else {}
    out = []
    for i in range(n):

        def load(i: int = i) -> Any:
            return generate_case(seed, i).volume

        if i in known:
            row = known[i]
            out.append(
                TrainingCase(row["case_id"], row["report"], np.asarray(row["labels"]), "", load)
            )
            continue
        case = generate_case(seed, i)
        case_id = str(getattr(case, "case_id", f"syn_{seed}_{i:06d}"))
        rec = _from_synthetic_case(case, case_id, load)
        if on_volume is not None:
            on_volume(rec, case.volume)
        if index_file is not None:
            row = {
                "seed": seed,
                "index": i,
                "case_id": case_id,
                "report": rec.report,
                "labels": rec.labels.tolist(),
            }
            with open(index_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        out.append(rec)
        del case
        if (i + 1) % 25 == 0:
            log.info(f"generated {i + 1}/{n} synthetic cases")
    return out


def read_synthetic_index(index_file: Path, seed: int) -> dict[int, dict[str, Any]]:
    """Rows of ``seed`` in a synthetic index (JSONL) by case index; a torn last line is skipped."""
    known: dict[int, dict[str, Any]] = {}
    if index_file.is_file():
        for line in index_file.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a partial last line from an interrupted run
            if row.get("seed") == seed:
                known[int(row["index"])] = row
    return known


def _report_of(case: Any) -> str:
    """Findings and impression joined as :attr:`radvoice.data.records.CaseRecord.report` does."""
    from radvoice.data.records import report_text

    report = getattr(case, "report", "")
    if isinstance(report, str):
        return report
    return report_text(str(getattr(report, "findings", "")), str(getattr(report, "impression", "")))


def _from_synthetic_case(case: Any, case_id: str, load: Any) -> TrainingCase:
    return TrainingCase(
        case_id=case_id,
        report=_report_of(case),
        labels=np.asarray(case.labels),
        split="",
        load=load,
    )


def _from_data_record(rec: Any, split: str | None = None) -> TrainingCase:
    """Adapt a :class:`radvoice.data.records.CaseRecord` (lazy volume when ``volume`` is None)."""
    path = rec.volume_path
    vol = rec.volume

    def load(rec: Any = rec, path: Any = path, vol: Any = vol) -> Any:
        if vol is not None:
            return vol
        from radvoice.imaging.reader import read_volume

        return read_volume(path)

    return TrainingCase(
        case_id=str(rec.case_id),
        report=rec.report,
        labels=np.asarray(rec.labels),
        split=split if split is not None else getattr(rec, "split", ""),
        load=load,
    )


def ctrate_records(root: Path) -> list[TrainingCase]:
    from radvoice.data.ctrate import CTRateDataset, read_ctrate_volume

    out = []
    for ct_split, ours in (("train", ""), ("valid", "test")):
        try:
            ds = CTRateDataset(root, split=ct_split, load_volumes=False)
        except RadVoiceError:
            if ct_split == "train":
                raise
            continue
        for name in ds.names():
            rec = ds.record(name)
            meta = ds.metadata[name]
            out.append(
                TrainingCase(
                    case_id=name,
                    report=rec.report,
                    labels=np.asarray(rec.labels),
                    split=ours,
                    load=lambda p=ds.paths[name], m=meta: read_ctrate_volume(p, m),
                )
            )
    return out


def corpus_records(root: Path) -> list[TrainingCase]:
    """Cases of a generated corpus folder (``manifest.jsonl``, ``radvoice data synth``)."""
    from radvoice.data.corpus import case_records

    return [_from_data_record(r) for r in case_records(root)]


def load_records(  # noqa: C901 - to be split
    spec: str | Sequence[str],
    settings: DataSettings,
    seed: int = 0,
    on_volume: Callable[[TrainingCase, Any], None] | None = None,
    cache_dir: Path | None = None,
) -> list[TrainingCase]:
    """Records for ``--data SPEC`` with splits assigned (see the module docstring).

    Several specs (``--data A --data B``) are loaded one by one and concatenated, each source
    keeping its own splits; a case id found in two sources is an error, since the grid cache
    and the splits are keyed by case id.
    """
    from radvoice.training.toy import toy_records

    if not isinstance(spec, str):
        specs = list(spec)
        if len(specs) == 1:
            return load_records(specs[0], settings, seed, on_volume, cache_dir)
        if not specs:
            raise DataSourceError("no --data given")
        out: list[TrainingCase] = []
        seen: dict[str, str] = {}
        for one in specs:
            for rec in load_records(one, settings, seed, on_volume, cache_dir):
                if rec.case_id in seen:
                    raise DataSourceError(
                        f"case id {rec.case_id} is in both --data {seen[rec.case_id]} and "
                        f"--data {one}: mixed sources need distinct case ids"
                    )
                seen[rec.case_id] = one
                out.append(rec)
        return out

    if spec.startswith("toy:"):
        records = toy_records(_count(spec, "toy:"), seed=settings.synthetic_seed)
    elif spec.startswith("synthetic:") or spec == "synthetic":
        n = _count(spec, "synthetic:") if ":" in spec else settings.synthetic_cases
        if n < 2:
            raise DataSourceError("--data synthetic needs data.synthetic_cases ≥ 2 in the config")
        index = None
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            index = Path(cache_dir) / "synthetic_index.jsonl"
        records = synthetic_records(n, settings.synthetic_seed, on_volume, index)
    else:
        root = Path(spec).expanduser()
        if not root.is_dir():
            raise DataSourceError(f"data folder not found: {spec}")
        if (root / "manifest.jsonl").is_file():
            records = corpus_records(root)
        elif any((root / s).is_dir() for s in ("train", "valid", "dataset")):
            records = ctrate_records(root)
        else:
            raise DataSourceError(
                f"{spec}: neither a corpus (manifest.jsonl) nor a CT-RATE layout (train/, valid/)"
            )
    if settings.max_cases > 0:
        records = records[: settings.max_cases]
    if not records:
        raise DataSourceError(f"--data {spec}: no cases found")
    assign_splits(records, settings.val_fraction, seed)
    return records
