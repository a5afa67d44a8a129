"""The synthetic corpus on disk: NIfTI volumes, per-case JSON, finding masks and a manifest.

Layout of ``DIR``::

    corpus.json                generation settings (a resumed run must use the same ones)
    manifest.jsonl             one row per finished case (appended as cases finish)
    volumes/<case>.nii.gz      int16 HU, LPS geometry
    cases/<case>.json          labels, finding attributes and extents, report, queries, params
    masks/<case>.npz           one bool array per positive finding (compressed)

A row is appended only after its three files are written, so an interrupted run resumes by
skipping the cases listed in the manifest whose files exist.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.data.records import CaseRecord
from radvoice.data.synth import SyntheticCase, generate_case
from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES

MANIFEST = "manifest.jsonl"
CONFIG = "corpus.json"
VERSION = 1


class CorpusError(RadVoiceError):
    """A corpus folder that cannot be read or resumed."""


@dataclass(frozen=True)
class CorpusSettings:
    seed: int
    resolution: str = "model"
    shape: tuple[int, int, int] = (64, 128, 128)
    spacing: tuple[float, float, float] = (2.8, 2.8, 5.0)
    real_background: str | None = None
    backgrounds: tuple[str, ...] = ()
    """Several real chest CTs: case ``i`` inserts its findings into ``backgrounds[i % n]``."""

    def background_for(self, index: int) -> str | None:
        if self.backgrounds:
            return self.backgrounds[index % len(self.backgrounds)]
        return self.real_background

    def to_dict(self) -> dict[str, Any]:
        out = {
            "version": VERSION,
            "seed": self.seed,
            "resolution": self.resolution,
            "shape": list(self.shape),
            "spacing": list(self.spacing),
            "real_background": self.real_background,
        }
        if self.backgrounds:
            out["backgrounds"] = list(self.backgrounds)
        return out


def case_files(case_id: str) -> dict[str, str]:
    return {
        "volume": f"volumes/{case_id}.nii.gz",
        "case": f"cases/{case_id}.json",
        "masks": f"masks/{case_id}.npz",
    }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def write_case(case: SyntheticCase, root: Path) -> dict[str, Any]:
    """Write one case's files under ``root``; returns its manifest row."""
    from radvoice.imaging.itk_io import write_volume

    files = case_files(case.case_id)
    for rel in files.values():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
    write_volume(case.volume, root / files["volume"])
    np.savez_compressed(root / files["masks"], **{name: m for name, m in case.masks.items()})
    doc = {
        "case_id": case.case_id,
        "seed": case.seed,
        "index": case.index,
        "labels": {name: int(v) for name, v in zip(PATHOLOGIES, case.labels, strict=True)},
        "known": {name: bool(v) for name, v in zip(PATHOLOGIES, case.known, strict=True)},
        "findings": case.findings,
        "extents": case.extents(),
        "report": case.report.to_dict(),
        "queries": [q.to_dict() for q in case.queries],
        "background": case.background,
        "params": case.params,
        "geometry": {
            "shape_zyx": list(case.volume.shape),
            "spacing_xyz": list(case.volume.spacing),
            "origin_lps": list(case.volume.origin),
        },
    }
    tmp = root / (files["case"] + ".tmp")
    tmp.write_text(json.dumps(_jsonable(doc), indent=1), encoding="utf-8")
    os.replace(tmp, root / files["case"])
    size = sum((root / rel).stat().st_size for rel in files.values())
    return {
        "case_id": case.case_id,
        "index": case.index,
        **files,
        "labels": [int(v) for v in case.labels],
        "positive": case.positive,
        "background": case.background,
        "bytes": size,
    }


def read_manifest(root: str | Path) -> list[dict[str, Any]]:
    """Rows of ``root/manifest.jsonl`` whose files exist (later duplicates win)."""
    root = Path(root)
    path = root / MANIFEST
    if not path.exists():
        return []
    rows: dict[str, dict[str, Any]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if n == len(path.read_text(encoding="utf-8").splitlines()):
                continue  # a line cut by an interrupted run
            raise CorpusError(f"{path.name} line {n} is not valid JSON") from None
        if all((root / row[k]).exists() for k in ("volume", "case", "masks")):
            rows[row["case_id"]] = row
    return sorted(rows.values(), key=lambda r: r["index"])


def _check_settings(root: Path, settings: CorpusSettings) -> None:
    path = root / CONFIG
    want = settings.to_dict()
    if path.exists():
        try:
            have = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise CorpusError(f"{path} is not valid JSON") from None
        if have != want:
            diff = sorted(k for k in want if have.get(k) != want[k])
            raise CorpusError(
                f"{root} was made with other settings ({', '.join(diff)}); use a new --out folder"
            )
    else:
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(want, indent=1), encoding="utf-8")


def _make(args: tuple[CorpusSettings, int, str]) -> dict[str, Any]:
    settings, index, root = args
    case = generate_case(
        settings.seed,
        index,
        resolution=settings.resolution,
        shape=settings.shape,
        spacing=settings.spacing,
        real_background=settings.background_for(index),
    )
    return write_case(case, Path(root))


def build_corpus(
    root: str | Path,
    n: int,
    settings: CorpusSettings,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Generate cases ``0..n-1`` into ``root`` (resumable); returns all manifest rows."""
    root = Path(root)
    if n < 0:
        raise CorpusError("--n must be >= 0")
    _check_settings(root, settings)
    done = {r["index"] for r in read_manifest(root)}
    todo = [i for i in range(n) if i not in done]
    total, count = n, n - len(todo)
    if progress:
        progress(count, total)
    args = [(settings, i, str(root)) for i in todo]
    with open(root / MANIFEST, "a", encoding="utf-8") as sink:
        if workers > 1 and len(todo) > 1:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(workers) as pool:
                for row in pool.imap_unordered(_make, args):
                    sink.write(json.dumps(row) + "\n")
                    sink.flush()
                    count += 1
                    if progress:
                        progress(count, total)
        else:
            for a in args:
                row = _make(a)
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                count += 1
                if progress:
                    progress(count, total)
    return read_manifest(root)


def load_case_json(root: str | Path, row: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(root) / row["case"]).read_text(encoding="utf-8"))


def load_masks(root: str | Path, row: dict[str, Any]) -> dict[str, np.ndarray]:
    with np.load(Path(root) / row["masks"]) as z:
        return {k: z[k].astype(bool) for k in z.files}


def load_volume(root: str | Path, row: dict[str, Any]):
    from radvoice.imaging import read_volume

    return read_volume(Path(root) / row["volume"])


def case_records(root: str | Path, load_volumes: bool = False) -> list[CaseRecord]:
    """The corpus as training records (report text, labels, volume path)."""
    root = Path(root)
    out = []
    for row in read_manifest(root):
        doc = load_case_json(root, row)
        out.append(
            CaseRecord(
                case_id=row["case_id"],
                findings=doc["report"]["findings"],
                impression=doc["report"]["impression"],
                labels=np.asarray(row["labels"], np.int8),
                volume=load_volume(root, row) if load_volumes else None,
                volume_path=root / row["volume"],
                source="synthetic",
                meta={"background": row.get("background", "synthetic"), "index": row["index"]},
            )
        )
    return out


def disk_usage(root: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
