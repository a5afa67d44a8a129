"""The CT side on its own: real anatomy first, then synthetic, localisation and the domain guard.

For each teacher folder (e.g. the previous CNN teacher and the grounded one), measured in one run
on the same cases:

* ``lung2_as_is``: the held-out real chest CT as it is — the findings called, its lung mass
  (called as a nodule?), the pleural-effusion probability, and whether the "Lung nodule" heat
  map's maximum lies in its lesion mask;
* ``lung2``: findings inserted into lung2 (never in training): macro AUROC and macro accuracy
  at the teacher's thresholds;
* ``test``: held-out generated cases (a generator seed no training used; phantom anatomy,
  clinical acquisitions and the lung1 background): macro AUROC, worst class, report → volume
  Recall@K with typed reports, heat-map hits (maximum inside the finding's mask) and the axial
  level error (slice of the heat-map maximum vs the mask's centre, mm);
* ``domain``: volumes that are not chest CTs (generated head, abdomen and MR-like volumes) and
  the real chest CTs: flagged out of domain or not, findings called.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.eval.metrics import classification_report, recall_at_k
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES, PATHOLOGY_INDEX

log = logging.getLogger(__name__)

TEST_SEED = 11  # never a training seed (training: 0; lung2 cases: 3)
TEST_PATTERN = ("phantom", "full", "real", "phantom", "real", "phantom")


@dataclass
class CTCase:
    case_id: str
    volume: Callable[[], Volume]
    labels: np.ndarray
    known: np.ndarray
    report: str = ""
    masks: Callable[[], dict[str, np.ndarray]] = field(default=lambda: {})


def _cached_case(folder: Path, cid: str, make: Callable[[], Any]) -> CTCase:
    from radvoice.imaging import read_volume
    from radvoice.imaging.itk_io import write_volume
    from radvoice.training.sources import _report_of

    meta_p, vol_p, mask_p = folder / f"{cid}.json", folder / f"{cid}.nii.gz", folder / f"{cid}.npz"
    if not (meta_p.is_file() and vol_p.is_file() and mask_p.is_file()):
        case = make()
        write_volume(case.volume, vol_p)
        np.savez_compressed(mask_p, **{k: v for k, v in case.masks.items() if v.any()})
        meta = {
            "labels": [int(v) for v in case.labels],
            "known": [bool(v) for v in case.known],
            "report": _report_of(case),
        }
        meta_p.write_text(json.dumps(meta))
    meta = json.loads(meta_p.read_text())

    def masks() -> dict[str, np.ndarray]:
        with np.load(mask_p) as z:
            return {k: z[k] for k in z.files}

    return CTCase(
        cid,
        lambda: read_volume(vol_p),
        np.asarray(meta["labels"]),
        np.asarray(meta["known"], bool),
        meta["report"],
        masks,
    )


def test_cases(cache: Path, n: int, lung1: Path | None) -> list[CTCase]:
    from radvoice.data.synth import generate_case

    folder = Path(cache) / f"ct_test_s{TEST_SEED}"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        kind = TEST_PATTERN[i % len(TEST_PATTERN)]
        if kind == "real" and lung1 is None:
            kind = "phantom"
        kw: dict[str, Any] = {}
        if kind == "full":
            kw["resolution"] = "full"
        elif kind == "real":
            kw["real_background"] = lung1
        out.append(
            _cached_case(folder, f"{kind}_{i:04d}", lambda kw=kw, i=i: generate_case(TEST_SEED, i, **kw))
        )
        if (i + 1) % 50 == 0:
            log.info(f"ct test case {i + 1}/{n}")
    return out


def lung2_cases(cache: Path, real_ct: Path, n: int, seed: int = 3) -> list[CTCase]:
    from radvoice.data.synth import generate_case

    folder = Path(cache) / f"ct_lung2_s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    src = Path(real_ct) / "lung2_image.nrrd"
    make = lambda i: generate_case(seed, i, real_background=src, allow_heldout_background=True)  # noqa: E731
    return [_cached_case(folder, f"lung2_{i:03d}", lambda i=i: make(i)) for i in range(n)]


def ood_volumes() -> dict[str, Volume]:
    """Generated volumes that are not chest CTs: a head CT, an abdomen-only CT and an MR-like
    volume (no Hounsfield units)."""
    z, y, x = np.mgrid[0:48, 0:220, 0:220].astype(np.float32)
    r = np.sqrt(((x - 110) / 85) ** 2 + ((y - 110) / 100) ** 2 + ((z - 24) / 40) ** 2)
    head = np.full(r.shape, -1000, np.int16)
    head[r < 1.0] = 1100  # skull
    head[r < 0.92] = 35  # brain
    head[(r < 0.92) & (np.abs(x - 110) < 2)] = 15  # falx / ventricles
    head[(r < 0.35) & (y < 60)] = -800  # a sinus: a little air
    ab = np.full(r.shape, -1000, np.int16)
    body = ((x - 110) / 100) ** 2 + ((y - 110) / 75) ** 2 < 1
    ab[body] = 40  # soft tissue
    ab[body & (((x - 110) / 90) ** 2 + ((y - 110) / 65) ** 2 > 1)] = -100  # fat rim
    ab[((x - 110) ** 2 + (y - 175) ** 2 < 100)] = 700  # spine
    rng = np.random.default_rng(0)
    for _ in range(25):  # bowel gas pockets
        cz, cy, cx = rng.integers(4, 44), rng.integers(70, 150), rng.integers(40, 180)
        ab[((z - cz) ** 2 * 4 + (y - cy) ** 2 + (x - cx) ** 2) < 36] = -950
    mr = np.clip(head.astype(np.int32) + 1000, 0, 2400).astype(np.int16)
    geo = {"spacing": (0.9, 0.9, 5.0), "origin": (0.0, 0.0, 0.0), "direction": np.eye(3)}
    return {
        "head CT (generated)": Volume(array=head, **geo),
        "abdomen CT (generated)": Volume(array=ab, **geo),
        "MR-like volume (generated)": Volume(array=mr, **geo),
    }


def _called(models, probs: dict[str, float], domain) -> list[str]:
    if domain is not None and not domain.ok:
        return []
    thr = models.thresholds
    return [k for k in PATHOLOGIES if probs[k] >= thr[k]]


def _localise(models, vol: Volume, masks: dict[str, np.ndarray], names: list[str]) -> list[dict]:
    """Per finding: does the heat map's maximum lie in its mask; axial error in mm."""
    from radvoice.nn.grid_maps import argmax_index

    out = []
    for name in names:
        mask = masks.get(name)
        if mask is None or mask.sum() < 2:
            continue
        hm = models.heatmap(vol, name)
        k, j, i = argmax_index(hm)
        kk = np.nonzero(mask)[0]
        z_true = vol.index_to_lps((0, 0, float(kk.mean())))[2]
        z_pred = vol.index_to_lps((0, 0, float(k)))[2]
        out.append({"finding": name, "hit": bool(mask[k, j, i]), "z_error_mm": abs(z_true - z_pred)})
    return out


def score_cases(models, cases: list[CTCase], localise: int = 0) -> dict[str, Any]:
    """Zero-shot scores, embeddings and (for the first ``localise`` cases) heat-map hits."""
    probs, embs, loc = [], [], []
    for n, c in enumerate(cases):
        vol = c.volume()
        emb = models.embed_volume(vol)
        p = models.zero_shot(emb)
        probs.append([p[k] for k in PATHOLOGIES])
        embs.append(emb)
        if n < localise:
            names = [k for k in PATHOLOGIES if c.labels[PATHOLOGY_INDEX[k]] and c.known[PATHOLOGY_INDEX[k]]]
            loc += _localise(models, vol, c.masks(), names)
    return {"probs": np.asarray(probs), "embeddings": np.asarray(embs), "localisation": loc}


def _class_metrics(cases: list[CTCase], probs: np.ndarray, thresholds: dict[str, float]) -> dict:
    labels = np.stack([c.labels for c in cases])
    known = np.stack([c.known for c in cases])
    thr = np.array([thresholds[k] for k in PATHOLOGIES])
    per = {}
    for j, name in enumerate(PATHOLOGIES):
        keep = known[:, j]
        y = labels[keep, j]
        if 0 < y.sum() < len(y):
            rep = classification_report(y[:, None], probs[keep, j : j + 1], thr[j : j + 1], [name])
            per[name] = rep[name]
    aucs = {k: v["auroc"] for k, v in per.items()}
    return {
        "macro_auroc": float(np.mean(list(aucs.values()))) if aucs else float("nan"),
        "macro_accuracy": float(np.mean([v["accuracy"] for v in per.values()])) if per else float("nan"),
        "worst_class": min(aucs, key=aucs.get) if aucs else None,
        "worst_auroc": min(aucs.values()) if aucs else float("nan"),
        "per_class_auroc": aucs,
    }


def evaluate_teacher(models, test: list[CTCase], lung2: list[CTCase], real_ct: Path | None,
                     localise: int) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    s = score_cases(models, test, localise)
    out["test"] = _class_metrics(test, s["probs"], models.thresholds)
    reports = models.embed_texts([c.report for c in test])
    sim = reports @ s["embeddings"].T
    out["test"]["report_to_volume_recall"] = recall_at_k(sim, (1, 5, 10, 50))
    loc = s["localisation"]
    out["test"]["heatmap_hit_rate"] = float(np.mean([r["hit"] for r in loc])) if loc else float("nan")
    out["test"]["axial_mae_mm"] = float(np.mean([r["z_error_mm"] for r in loc])) if loc else float("nan")
    out["test"]["n_localised"] = len(loc)
    out["test"]["n_cases"] = len(test)
    if lung2:
        s2 = score_cases(models, lung2)
        out["lung2"] = _class_metrics(lung2, s2["probs"], models.thresholds)
        out["lung2"]["n_cases"] = len(lung2)
    if real_ct is not None:
        out["lung2_as_is"] = lung2_as_is(models, Path(real_ct))
    out["domain"] = domain_table(models, real_ct)
    return out


def lung2_as_is(models, real_ct: Path) -> dict[str, Any]:
    from radvoice.imaging import read_volume
    from radvoice.nn.grid_maps import argmax_index

    vol = read_volume(real_ct / "lung2_image.nrrd")
    lesion = read_volume(real_ct / "lung2_label.nrrd").array > 0
    emb = models.embed_volume(vol)
    probs = models.zero_shot(emb)
    domain = models.domain(vol, emb) if hasattr(models, "domain") else None
    called = _called(models, probs, domain)
    hm = models.heatmap(vol, "Lung nodule")
    return {
        "called": called,
        "n_called": len(called),
        "mass_called_as_nodule": "Lung nodule" in called,
        "pleural_effusion": probs["Pleural effusion"],
        "pleural_effusion_threshold": models.thresholds["Pleural effusion"],
        "nodule_heatmap_max_in_lesion": bool(lesion[argmax_index(hm)]),
        "in_distribution": None if domain is None else domain.in_distribution,
    }


def domain_table(models, real_ct: Path | None) -> list[dict[str, Any]]:
    from radvoice.imaging import read_volume

    vols = dict(ood_volumes())
    if real_ct is not None:
        for name in ("lung1", "lung2"):
            vols[f"{name} (real chest CT)"] = read_volume(Path(real_ct) / f"{name}_image.nrrd")
    rows = []
    for name, vol in vols.items():
        emb = models.embed_volume(vol)
        probs = models.zero_shot(emb)
        dom = models.domain(vol, emb) if hasattr(models, "domain") else None
        rows.append(
            {
                "volume": name,
                "chest_ct": None if dom is None else dom.chest_ct,
                "in_distribution": None if dom is None else round(dom.in_distribution, 4),
                "flagged": dom is not None and not dom.ok,
                "n_called": len(_called(models, probs, dom)),
                "message": "" if dom is None else dom.message,
            }
        )
    return rows


def run_ct_eval(
    teachers: dict[str, Any], cache: Path, real_ct: Path | None, n_test: int = 300,
    n_lung2: int = 96, localise: int = 100,
) -> dict[str, Any]:  # fmt: skip
    """``teachers``: display name → a models object (``RadVoiceModels``) to measure."""
    lung1 = Path(real_ct) / "lung1_image.nrrd" if real_ct is not None else None
    test = test_cases(cache, n_test, lung1 if lung1 is not None and lung1.is_file() else None)
    lung2 = lung2_cases(cache, Path(real_ct), n_lung2) if real_ct is not None else []
    out = {}
    for name, models in teachers.items():
        log.info(f"ct eval: {name}")
        out[name] = evaluate_teacher(models, test, lung2, real_ct, localise)
    return out


def _f(v: Any, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def ct_markdown(result: dict[str, Any]) -> str:
    names = list(result)
    head = "| figure | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    rows = [
        ("lung2 as it is: findings called", lambda r: r.get("lung2_as_is", {}).get("n_called")),
        ("lung2 as it is: mass called as nodule", lambda r: r.get("lung2_as_is", {}).get("mass_called_as_nodule")),
        ("lung2 as it is: pleural effusion p / thr", lambda r: "{:.2f} / {:.2f}".format(
            r["lung2_as_is"]["pleural_effusion"], r["lung2_as_is"]["pleural_effusion_threshold"]) if "lung2_as_is" in r else None),
        ("lung2 as it is: nodule heat-map max in lesion", lambda r: r.get("lung2_as_is", {}).get("nodule_heatmap_max_in_lesion")),
        ("lung2 + inserted findings: macro AUROC", lambda r: r.get("lung2", {}).get("macro_auroc")),
        ("lung2 + inserted findings: accuracy at thresholds", lambda r: r.get("lung2", {}).get("macro_accuracy")),
        ("synthetic test: macro AUROC", lambda r: r["test"]["macro_auroc"]),
        ("synthetic test: worst class", lambda r: "{} {:.2f}".format(r["test"]["worst_class"], r["test"]["worst_auroc"])),
        ("report → volume R@10 (typed)", lambda r: r["test"]["report_to_volume_recall"][10]),
        ("heat-map maximum inside the finding's mask", lambda r: r["test"]["heatmap_hit_rate"]),
        ("axial level error of a finding, mm (mean)", lambda r: r["test"]["axial_mae_mm"]),
        ("non-chest / non-CT volumes flagged", lambda r: "{}/{}".format(
            sum(x["flagged"] for x in r["domain"] if "generated" in x["volume"]),
            sum("generated" in x["volume"] for x in r["domain"]))),
        ("real chest CTs flagged (should be 0)", lambda r: sum(x["flagged"] for x in r["domain"] if "real" in x["volume"])),
    ]  # fmt: skip
    body = ""
    for label, get in rows:
        cells = []
        for n in names:
            try:
                cells.append(_f(get(result[n])))
            except (KeyError, TypeError, IndexError):
                cells.append("–")
        body += f"| {label} | " + " | ".join(cells) + " |\n"
    return head + body


def spoken_prompt_gap(
    teacher_models, test: list[CTCase], students: dict[str, Path], cache: Path, n_voices: int = 2
) -> dict[str, Any]:
    """Zero-shot AUROC on ``test`` with the prompts typed (the text teacher) and spoken by
    voices of the held-out engines, embedded by each speech model in ``students`` (e.g. ``kd``
    and ``no_kd``); gap recovery = (KD − no-KD) / (text − no-KD)."""
    import torch
    import torch.nn.functional as F

    from radvoice.data.speech_splits import make_split_plan
    from radvoice.data.tts import synthesize
    from radvoice.nn.speech_student import SpeechStudent
    from radvoice.nn.zeroshot import prompt_texts, zero_shot_probabilities

    bundle = teacher_models._teacher()
    scale = float(bundle.clip.logit_scale.detach())
    ct = torch.from_numpy(np.stack([teacher_models.embed_volume(c.volume()) for c in test]))
    ct = F.normalize(ct.float(), dim=-1)
    labels = np.stack([c.labels for c in test])
    known = np.stack([c.known for c in test])
    texts = prompt_texts()
    plan = make_split_plan()
    voices = plan.voices("test_unseen_engine")[:n_voices]
    folder = Path(cache) / "spoken_prompts"
    folder.mkdir(parents=True, exist_ok=True)
    audio = []
    for v in voices:
        for i, t in enumerate(texts):
            path = folder / f"{v.engine}_{v.speaker}_{i:03d}.npy"
            if not path.is_file():
                np.save(path, synthesize(t, v))
            audio.append(np.load(path))

    def auc(prompts: torch.Tensor) -> float:
        from radvoice.eval.metrics import macro_auroc

        probs = zero_shot_probabilities(ct, prompts, scale).numpy()
        return macro_auroc(labels, probs, known)

    out = {"voices": [f"{v.engine}:{v.speaker}" for v in voices], "text": auc(bundle.prompts)}
    for name, folder_s in students.items():
        student = SpeechStudent.load(Path(folder_s), device="cpu")
        emb = torch.stack([torch.as_tensor(student.embed_audio(a)) for a in audio]).float()
        emb = F.normalize(emb, dim=-1).reshape(len(voices), len(PATHOLOGIES), -1, 2, emb.shape[-1])
        prompts = F.normalize(emb.mean(dim=(0, 2)), dim=-1)  # (18, 2, D)
        out[name] = auc(prompts)
    if "kd" in out and "no_kd" in out:
        gap = out["text"] - out["no_kd"]
        out["gap_recovery"] = (out["kd"] - out["no_kd"]) / gap if gap > 0 else float("nan")
    return out
