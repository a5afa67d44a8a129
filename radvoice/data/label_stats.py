"""Label prevalence and co-occurrence of generated cases, next to CT-RATE reference numbers."""

from __future__ import annotations

import numpy as np

from radvoice.data.cooccurrence import CTRATE_PREVALENCE, sample_labels
from radvoice.data.synth import _streams
from radvoice.labels import PATHOLOGIES


def case_labels(seed: int, n: int) -> np.ndarray:
    """The labels ``generate_case(seed, i)`` draws for ``i < n`` (same random streams),
    without rendering the volumes. (generate_case may still drop a label whose painting
    left no voxel on the grid; the note reports how rarely that happens.)"""
    return np.stack(
        [sample_labels(np.random.default_rng(_streams(seed, i)["labels"])) for i in range(n)]
    )


def label_statistics_markdown(n: int = 2000, seed: int = 0) -> str:
    labels = case_labels(seed, n)
    prev = labels.mean(axis=0)
    k = labels.sum(axis=1)
    lines = [
        "# Label statistics of the synthetic corpus",
        "",
        f"{n} cases (`generate_case(seed={seed}, index=0..{n - 1})`), labels drawn by the latent",
        "Gaussian factor model in `radvoice/data/cooccurrence.py`. Regenerate with",
        f"`radvoice data stats --n {n} --seed {seed} --out docs/label_statistics.md`.",
        "",
        "CT-RATE reference: approximate prevalences of the 18 labels in the CT-RATE training",
        "split (multi_abnormality_labels), as recalled from the CT-RATE paper and dataset card;",
        "they could not be re-checked offline here, so treat them as +-2 points.",
        "",
        "| Label | synthetic % | CT-RATE % (approx.) |",
        "| --- | ---: | ---: |",
    ]
    for i, name in enumerate(PATHOLOGIES):
        lines.append(f"| {name} | {100 * prev[i]:.1f} | {100 * CTRATE_PREVALENCE[name]:.1f} |")
    lines += [
        "",
        f"- Normal cases (no finding): {100 * np.mean(k == 0):.1f} %",
        f"- Findings per case: mean {k.mean():.2f}, median {np.median(k):.0f}, max {k.max()}",
        "",
        "## Co-occurrence",
        "",
        "Phi correlation between labels (rows/columns in PATHOLOGIES order, abbreviated);",
        "positive values come from the shared factors (illness, atherosclerosis, cardiac/fluid,",
        "infection, small airways, fibrosis).",
        "",
    ]
    abbrev = ["".join(w[0] for w in name.split()).upper() for name in PATHOLOGIES]
    corr = np.corrcoef(labels.T.astype(float))
    lines.append("| | " + " | ".join(abbrev) + " |")
    lines.append("| --- " * (len(abbrev) + 1) + "|")
    for i, a in enumerate(abbrev):
        lines.append(
            f"| {a} | "
            + " | ".join(f"{corr[i, j]:.2f}" if i != j else "-" for j in range(len(abbrev)))
            + " |"
        )
    lines += [
        "",
        "Abbreviations: "
        + ", ".join(f"{a} = {n_}" for a, n_ in zip(abbrev, PATHOLOGIES, strict=True)),
        "",
    ]
    pairs = []
    for i in range(len(PATHOLOGIES)):
        for j in range(i + 1, len(PATHOLOGIES)):
            both = np.mean(labels[:, i] & labels[:, j])
            pairs.append((corr[i, j], PATHOLOGIES[i], PATHOLOGIES[j], both))
    pairs.sort(reverse=True)
    lines += ["Strongest pairs:", "", "| pair | phi | both present % |", "| --- | ---: | ---: |"]
    for c, a, b, both in pairs[:10]:
        lines.append(f"| {a} + {b} | {c:.2f} | {100 * both:.1f} |")
    return "\n".join(lines) + "\n"
