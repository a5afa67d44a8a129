"""Synthetic chest CT cases: volume, labels, finding masks, report and spoken queries.

``generate_case(seed, index)`` is deterministic: every random choice comes from numpy
generators seeded by ``(seed, index)``, one stream per purpose (anatomy, labels, each
finding, scanner noise, report, queries), so toggling a finding leaves the rest unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from radvoice.data.cooccurrence import sample_labels
from radvoice.data.phantom.anatomy import build_chest
from radvoice.data.phantom.findings import paint_findings
from radvoice.data.phantom.grid import Grid, model_grid, random_scanner_grid
from radvoice.data.phantom.params import PatientParams
from radvoice.data.phantom.texture import scanner_finish
from radvoice.data.queries import Query, sample_queries
from radvoice.data.reports import Report, write_report
from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume
from radvoice.labels import NUM_PATHOLOGIES, PATHOLOGIES, PATHOLOGY_INDEX

DEFAULT_MODEL_SHAPE = (64, 128, 128)
DEFAULT_MODEL_SPACING = (2.8, 2.8, 5.0)


class SynthesisError(RadVoiceError):
    """A bad request to the generator (unknown label, impossible grid)."""


@dataclass
class SyntheticCase:
    """One generated case. ``labels`` are the ground truth (18 ints, PATHOLOGIES order)."""

    seed: int
    index: int
    volume: Volume
    labels: np.ndarray
    findings: dict[str, dict[str, Any]]
    masks: dict[str, np.ndarray]
    report: Report
    queries: list[Query]
    params: dict[str, Any] = field(default_factory=dict)
    known: np.ndarray = field(default_factory=lambda: np.ones(NUM_PATHOLOGIES, bool))
    """Which labels are trustworthy (a real background may hide unknown findings)."""
    background: str = "synthetic"

    @property
    def case_id(self) -> str:
        """``syn_<seed>_<index>``, plus ``_<background>`` for a real background: the same seed
        and index on phantom and on real anatomy are different cases (grid caches, mixed
        training sources and splits are keyed by case id)."""
        base = f"syn_{self.seed}_{self.index:06d}"
        return base if self.background == "synthetic" else f"{base}_{self.background}"

    @property
    def positive(self) -> list[str]:
        return [name for name, v in zip(PATHOLOGIES, self.labels, strict=True) if v]

    def extents(self) -> dict[str, dict[str, Any]]:
        """Per positive finding: voxel count, index bounding box and axial extent (LPS z mm)."""
        out = {}
        for name, mask in self.masks.items():
            if not mask.any():
                out[name] = {"voxels": 0}
                continue
            k, j, i = np.nonzero(mask)
            z0 = self.volume.index_to_lps((0, 0, int(k.min())))[2]
            z1 = self.volume.index_to_lps((0, 0, int(k.max())))[2]
            out[name] = {
                "voxels": int(k.size),
                "bbox_kji": [
                    [int(k.min()), int(j.min()), int(i.min())],
                    [int(k.max()), int(j.max()), int(i.max())],
                ],
                "z_mm": [round(float(min(z0, z1)), 1), round(float(max(z0, z1)), 1)],
            }
        return out


def _labels_from(
    request: Sequence[str] | Sequence[int] | np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    if request is None:
        return sample_labels(rng)
    items = list(request)
    if not items:
        return np.zeros(NUM_PATHOLOGIES, np.int8)
    if all(isinstance(v, str) for v in items):
        unknown = [v for v in items if v not in PATHOLOGY_INDEX]
        if unknown:
            raise SynthesisError(
                f"unknown finding {unknown[0]!r}; expected one of the 18 CT-RATE labels"
            )
        out = np.zeros(NUM_PATHOLOGIES, np.int8)
        out[[PATHOLOGY_INDEX[v] for v in items]] = 1
        return out
    arr = np.asarray(items, dtype=np.int8)
    if arr.shape != (NUM_PATHOLOGIES,):
        raise SynthesisError(f"labels need {NUM_PATHOLOGIES} values, got {arr.size}")
    return (arr > 0).astype(np.int8)


def _streams(seed: int, index: int) -> dict[str, np.random.SeedSequence]:
    if seed < 0 or index < 0:
        raise SynthesisError("seed and index must be non-negative integers")
    root = np.random.SeedSequence([int(seed), int(index), 0x52AD])
    names = ("anatomy", "labels", "findings", "noise", "report", "queries", "grid", "background")
    return dict(zip(names, root.spawn(len(names)), strict=True))


def generate_case(
    seed: int,
    index: int = 0,
    *,
    resolution: str = "model",
    shape: tuple[int, int, int] = DEFAULT_MODEL_SHAPE,
    spacing: tuple[float, float, float] = DEFAULT_MODEL_SPACING,
    labels: Sequence[str] | Sequence[int] | np.ndarray | None = None,
    real_background: str | Path | None = None,
    n_queries: int = 6,
    allow_heldout_background: bool = False,
) -> SyntheticCase:
    """Generate one case.

    ``resolution``: ``"model"`` renders directly on the fixed grid ``shape`` (nz, ny, nx) /
    ``spacing`` (sx, sy, sz mm) that training consumes; ``"full"`` samples a clinical
    acquisition (512x512, 0.5-1 mm pixels, 1-5 mm slices), renders on a coarser internal
    grid and resamples. ``labels`` forces the findings (names or an 18-vector) instead of
    sampling them. ``real_background`` inserts the findings into a real chest CT file (the
    held-out lung2 only with ``allow_heldout_background``, for evaluation).
    """
    if resolution not in ("model", "full"):
        raise SynthesisError(f"resolution must be 'model' or 'full', got {resolution!r}")
    st = _streams(seed, index)
    want = _labels_from(labels, np.random.default_rng(st["labels"]))
    requested = want
    painters = None
    rng_anat = np.random.default_rng(st["anatomy"])
    params = PatientParams.sample(rng_anat)
    known = np.ones(NUM_PATHOLOGIES, bool)
    background = "synthetic"
    thickness: float | None = None
    rng_grid = np.random.default_rng(st["grid"])
    if real_background is not None:
        from radvoice.data.phantom.real_background import real_chest

        grid_out = model_grid(shape, spacing) if resolution == "model" else None
        hu, chest, bg_info = real_chest(
            Path(real_background),
            np.random.default_rng(st["background"]),
            grid_out,
            allow_heldout_background,
        )
        grid = chest.grid
        target = grid
        background = bg_info["name"]
        painters = bg_info["painters"]
        requested = want.copy()  # the scan's own findings are labelled, painted only on request
        for name in bg_info["present"]:
            want[PATHOLOGY_INDEX[name]] = 1
        unsupported = [
            n for n in PATHOLOGIES if n not in chest.supported and n not in bg_info["present"]
        ]
        for name in unsupported:
            want[PATHOLOGY_INDEX[name]] = 0
            known[PATHOLOGY_INDEX[name]] = False
    elif resolution == "model":
        center = (
            float(rng_grid.normal(0, 6)),
            float(rng_grid.normal(-5, 6)),
            float(rng_grid.normal(0, 8)),
        )
        try:
            grid = Grid.centered(tuple(shape), tuple(spacing), center)
        except (TypeError, ValueError) as err:
            raise SynthesisError(f"bad model grid {shape} @ {spacing}: {err}") from err
        target = grid
        hu, chest = build_chest(rng_anat, grid, params)
    else:
        target, thickness = random_scanner_grid(
            rng_grid, 2 * params.half_width, 2 * params.half_depth
        )
        sx, sy, sz = target.spacing
        isp = (max(sx, 1.8), max(sy, 1.8), max(sz, 3.0))
        nz, ny, nx = target.shape
        ishape = (
            max(8, round(nz * sz / isp[2])),
            max(8, round(ny * sy / isp[1])),
            max(8, round(nx * sx / isp[0])),
        )
        ispacing = (nx * sx / ishape[2], ny * sy / ishape[1], nz * sz / ishape[0])
        center = tuple(
            o + (n - 1) * s / 2
            for o, n, s in zip(target.origin, (nx, ny, nz), target.spacing, strict=True)
        )
        grid = Grid.centered(ishape, ispacing, center)  # type: ignore[arg-type]
        hu, chest = build_chest(rng_anat, grid, params)
    names = [n for n in PATHOLOGIES if requested[PATHOLOGY_INDEX[n]] and n in chest.supported]
    results = paint_findings(hu, chest, names, st["findings"], painters)
    masks = {name: r.mask for name, r in results.items()}
    findings = {name: dict(r.attrs) for name, r in results.items()}
    if real_background is not None:
        _merge_background(masks, findings, bg_info)
    # A finding whose painting left no trace on this grid is not claimed.
    for name in list(findings):
        if name in masks and not masks[name].any():
            want[PATHOLOGY_INDEX[name]] = 0
            findings.pop(name)
            masks.pop(name)
    if target is not grid:
        zoom = [t / s for t, s in zip(target.shape, grid.shape, strict=True)]
        hu = _resize(hu, target.shape, zoom, order=1)
        masks = {
            k: _resize(m.astype(np.uint8), target.shape, zoom, order=0).astype(bool)
            for k, m in masks.items()
        }
    rng_noise = np.random.default_rng(st["noise"])
    hu = scanner_finish(
        hu, target, rng_noise, params.noise_std if real_background is None else 4.0, thickness
    )
    vol = Volume(
        array=np.clip(np.rint(hu), -1024, 3071).astype(np.int16),
        spacing=target.spacing,
        origin=target.origin,
        direction=np.eye(3),
        meta={
            "PatientID": f"SYN{seed}-{index}",
            "SeriesDescription": "RadVoice synthetic chest CT"
            if real_background is None
            else "RadVoice augmented real chest CT",
            "StudyDescription": "CT CHEST",
            "WindowCenter": -600,
            "WindowWidth": 1500,
            "SliceThickness": thickness or target.spacing[2],
            "Synthetic": True,
        },
        source=f"synthetic:{seed}:{index}",
    )
    report = write_report(want, findings, np.random.default_rng(st["report"]), known=known)
    queries = sample_queries(want, np.random.default_rng(st["queries"]), n_queries, known)
    return SyntheticCase(
        seed=int(seed),
        index=int(index),
        volume=vol,
        labels=want,
        findings=findings,
        masks=masks,
        report=report,
        queries=queries,
        params=params.to_dict(),
        known=known,
        background=background,
    )


def _merge_background(
    masks: dict[str, np.ndarray], findings: dict[str, dict[str, Any]], bg_info: dict[str, Any]
) -> None:
    """Add the findings the background scan already shows (union with any painted ones)."""
    from radvoice.data.phantom.findings_real import merge_attrs

    for name, mask in bg_info["masks"].items():
        masks[name] = masks[name] | mask if name in masks else mask
        attrs = bg_info["findings"][name]
        findings[name] = merge_attrs(attrs, findings[name]) if name in findings else dict(attrs)


def _resize(a: np.ndarray, shape: tuple[int, ...], zoom: list[float], order: int) -> np.ndarray:
    out = ndimage.zoom(a, zoom, order=order, grid_mode=True, mode="nearest")
    if out.shape != tuple(shape):
        out = out[tuple(slice(0, s) for s in shape)]
        pad = [(0, s - n) for s, n in zip(shape, out.shape, strict=True)]
        out = np.pad(out, pad, mode="edge")
    return out


def iter_cases(
    seed: int, start: int = 0, stop: int | None = None, **kwargs: Any
) -> Iterator[SyntheticCase]:
    """Cases ``start, start+1, ...`` generated on the fly (no storage); endless if ``stop`` is None."""
    i = start
    while stop is None or i < stop:
        yield generate_case(seed, i, **kwargs)
        i += 1
