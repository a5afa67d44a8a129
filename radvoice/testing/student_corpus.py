"""A toy student corpus on disk for tests and smoke runs (seconds, no TTS engines).

Same layout as :mod:`radvoice.training.student_corpus` (``manifest.jsonl``, ``cases/``,
``volumes/``, ``masks/``, ``speech/speech_manifest.jsonl``, ``speech/student_items.jsonl``) with
:mod:`radvoice.training.toy` volumes and speech-like audio whose spectrum depends on the
findings, so a pipeline can be shown to learn. Not a substitute for the real corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from radvoice.labels import PATHOLOGIES
from radvoice.training.student_corpus import ITEMS_NAME, SPEECH_DIR, prompt_items, write_items
from radvoice.training.toy import toy_records

SR = 16_000


def toy_audio(labels: np.ndarray, seconds: float, seed: int) -> np.ndarray:
    """Syllable-modulated harmonics; each positive label adds its own formant-like tone."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 110.0 + 40.0 * rng.random()
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    for c in np.flatnonzero(labels):
        x = x + 0.8 * np.sin(2 * np.pi * (600.0 + 150.0 * c) * t)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t + rng.random() * 6.28)
    x = x * env + 0.02 * rng.standard_normal(t.size)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def write_toy_student_corpus(root: Path, n: int = 24, seed: int = 0, unspoken: int = 0) -> Path:
    """``n`` toy cases with a spoken report and a query each (splits train/val/test_seen), plus
    the first prompt template of every label and polarity spoken in train, val and test_seen;
    ``unspoken`` more cases have a CT and labels but no speech (the spoken zero-shot dev set)."""
    from radvoice.imaging.itk_io import write_volume

    root = Path(root)
    for sub in ("volumes", "cases", "masks", f"{SPEECH_DIR}/wavs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rows, items, speech = [], [], []
    splits = ["train"] * 6 + ["val", "test_seen"]
    for i, rec in enumerate(toy_records(n + unspoken, seed=seed)):
        cid = rec.case_id
        files = {"volume": f"volumes/{cid}.nii.gz", "case": f"cases/{cid}.json"}
        files["masks"] = f"masks/{cid}.npz"
        write_volume(rec.load(), root / files["volume"])
        np.savez_compressed(root / files["masks"])
        doc = {"case_id": cid, "report": {"findings": rec.report, "impression": ""}}
        (root / files["case"]).write_text(json.dumps(doc))
        rows.append({"case_id": cid, "index": i, **files, "labels": rec.labels.tolist()})
        if i >= n:
            continue
        split = splits[i % len(splits)]
        items.append(
            {
                "item_id": f"{cid}_report",
                "kind": "report",
                "text": rec.report,
                "case_id": cid,
                "label": None,
                "polarity": None,
            }
        )
        speech.append(_utt(root, f"{cid}_report", rec.report, split, rec.labels, 2.3, i))
        label = PATHOLOGIES[i % 6]
        qtext = f"is there {label.lower()}"
        items.append(
            {
                "item_id": f"{cid}_q0",
                "kind": "query",
                "text": qtext,
                "case_id": cid,
                "label": label,
                "polarity": None,
            }
        )
        onehot = np.eye(len(PATHOLOGIES), dtype=int)[i % 6]
        speech.append(_utt(root, f"{cid}_q0", qtext, split, onehot, 1.1, 1000 + i))
    prompts = prompt_items()
    items.extend(prompts)
    for j, p in enumerate(q for q in prompts if q["template"] == 0):
        onehot = np.eye(len(PATHOLOGIES), dtype=int)[PATHOLOGIES.index(p["label"])] * p["polarity"]
        for split in ("train", "val", "test_seen"):
            uid = f"{p['item_id']}_{split.split('_')[0]}"
            row = _utt(root, uid, p["text"], split, onehot, 1.0, 5000 + j)
            row["item_id"] = f"{p['item_id']}_{split.split('_')[0]}"
            speech.append(row)
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_items(items, root / SPEECH_DIR / ITEMS_NAME)
    with open(root / SPEECH_DIR / "speech_manifest.jsonl", "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in speech)
    return root


def _utt(root: Path, uid: str, text: str, split: str, labels, seconds: float, seed: int) -> dict:
    import soundfile as sf

    rel = f"wavs/{split}/{uid}.wav"
    path = root / SPEECH_DIR / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), toy_audio(np.asarray(labels), seconds, seed), SR, subtype="PCM_16")
    return {
        "id": uid,
        "item_id": uid,
        "text": text,
        "spoken_text": text,
        "split": split,
        "engine": "toy",
        "speaker": "toy",
        "path": rel,
        "duration": seconds,
    }
