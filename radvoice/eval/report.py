"""The evaluation's outputs: the console table, the markdown report and the ROC-curve PNG."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from radvoice.eval.eval_sets import CONDITION_TITLES
from radvoice.eval.zeroshot_eval import (
    SYSTEM_TITLES,
    SYSTEMS,
    CellResult,
    EvalResult,
    gap_recovery,
)


def _f(v: float, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _system_rows(
    result: EvalResult, conds: list[str], fmt: Callable[[CellResult], str]
) -> list[list[str]]:
    """One row per evaluated system: its title, then ``fmt(cell)`` per condition ("—" if none)."""
    rows = []
    for s in SYSTEMS:
        cells = result.cells.get(s)
        if cells is not None:
            rows.append([SYSTEM_TITLES[s]] + [fmt(cells[c]) if c in cells else "—" for c in conds])
    return rows


def _rows(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    conds = list(result.gap_recovery)
    header = ["macro AUROC"] + [CONDITION_TITLES[c] for c in conds]
    rows = _system_rows(result, conds, lambda cell: _f(cell.macro["auroc"]))
    rows.append(["gap recovery"] + [_f(result.gap_recovery[c], 2) for c in conds])
    if result.gap_recovery_ci:
        rows.append(
            ["  95 % CI (cases)"] + [_interval(result.gap_recovery_ci.get(c)) for c in conds]
        )
    rows.extend(_first_rendition(result, conds))
    return header, rows


def _first_rendition(result: EvalResult, conds: list[str]) -> list[list[str]]:
    """Where prompts were spoken several times: how many renditions the speech rows average,
    and KD AUROC / gap recovery from the first rendition alone (one classifier, as before)."""
    kd, nokd, text = (result.cells.get(s, {}) for s in ("speech_kd", "speech_nokd", "text"))
    if not any(len(c.probs_draws) > 1 for c in kd.values()):
        return []
    n_row, first_row = ["  spoken renditions averaged"], ["  first rendition: KD / gap rec."]
    for c in conds:
        if c not in kd:
            n_row.append("—")
            first_row.append("—")
            continue
        n_row.append(str(max(len(kd[c].probs_draws), 1)))
        gr = float("nan")
        if c in nokd and c in text:
            gr = gap_recovery(text[c].macro["auroc"], nokd[c].auroc_first, kd[c].auroc_first)
        first_row.append(f"{_f(kd[c].auroc_first)} / {_f(gr, 2)}")
    return [n_row, first_row]


def _interval(ci: dict[str, float] | None) -> str:
    if not ci or math.isnan(ci.get("undefined", float("nan"))):
        return "—"
    if math.isnan(ci["low"]):
        return f"undefined in {ci['undefined']:.0%}"
    return f"[{ci['low']:.2f}, {ci['high']:.2f}]"


def _thresholded(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    """Macro weighted F1 / accuracy / precision at the per-class calibration thresholds."""
    conds = list(result.gap_recovery)
    header = ["weighted F1 / accuracy / precision"] + [CONDITION_TITLES[c] for c in conds]
    return header, _system_rows(result, conds, lambda cell: _metric_triple(cell.macro))


def _metric_triple(m: dict[str, float]) -> str:
    return " / ".join(_f(m.get(k, float("nan"))) for k in ("weighted_f1", "accuracy", "precision"))


def _secondary(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    conds = [c for c in result.gap_recovery if c != "lung2"]
    header = ["R@5 / query top-1 / shown"] + [CONDITION_TITLES[c] for c in conds]

    def fmt(cell: CellResult) -> str:
        r5 = _f(cell.retrieval.get("R@5", float("nan")), 2)
        return f"{r5} / {_f(cell.query_top1, 2)} / {_f(cell.query_shown, 2)}"

    return header, _system_rows(result, conds, fmt)


def _routing(result: EvalResult) -> tuple[list[str], list[list[str]]]:
    conds = [c for c in result.gap_recovery if c != "lung2"]
    header = ["as question: questions / prompts / findings / report parts"]
    header += [CONDITION_TITLES[c] for c in conds]
    keys = ("questions", "statements", "findings", "report_parts")

    def fmt(cell: CellResult) -> str:
        r = cell.routing
        return " / ".join(_f(r.get(k, float("nan")), 2) for k in keys) if r else "—"

    return header, _system_rows(result, conds, fmt)


def text_table(result: EvalResult) -> str:
    """The fixed-width table ``radvoice eval`` prints."""
    out = []
    tables = (_rows(result), _thresholded(result), _secondary(result), _routing(result))
    for header, rows in tables:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [_pad(r, widths) for r in [header, *rows]]
        out += [lines[0], "  ".join("-" * w for w in widths), *lines[1:], ""]
    return "\n".join(out).rstrip() + "\n"


def _pad(row: list[str], widths: list[int]) -> str:
    return "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def roc_png(result: EvalResult, path: Path) -> Path:
    """Micro-averaged ROC curves (all labels pooled) per condition, one line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    conds = list(result.gap_recovery)
    fig, axes = plt.subplots(1, len(conds), figsize=(3.6 * len(conds), 3.6), squeeze=False)
    for ax, cond in zip(axes[0], conds, strict=True):
        for s in SYSTEMS:
            cell = result.cells.get(s, {}).get(cond)
            if cell is None or cell.roc is None:
                continue
            y, p = cell.roc
            if y.size == 0 or y.min() == y.max():
                continue
            fpr, tpr, _ = roc_curve(y.ravel(), p.ravel())
            ax.plot(fpr, tpr, label=f"{SYSTEM_TITLES[s]} ({cell.macro['auroc']:.3f})")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        ax.set_title(CONDITION_TITLES[cond], fontsize=10)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=7, loc="lower right", title="macro AUROC", title_fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(result: EvalResult, out_dir: Path, command: str) -> Path:
    """``out_dir/eval.md`` + ``roc_curves.png`` + ``eval.json`` + ``table.txt`` (the printed
    table), all from this one run; returns the markdown path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = roc_png(result, out_dir / "roc_curves.png")
    (out_dir / "eval.json").write_text(json.dumps(json_safe(result.to_dict()), indent=1) + "\n")
    (out_dir / "table.txt").write_text(text_table(result), encoding="utf-8")
    info = result.info
    parts = [
        "# RadVoice evaluation\n",
        f"`{command}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Trained and "
        "evaluated on synthetic data generated by this project; not for clinical use.\n",
        "Zero-shot classification of the test CT set with each system's prompt embeddings "
        "(CT-CLIP prompts, averaged over templates; spoken prompts for speech systems; where "
        "each prompt was spoken several times per condition, one classifier per rendition and "
        "the mean of their metrics). "
        "Gap recovery = (speech KD − speech no-KD) / (text − speech no-KD).\n",
        f"Cases: {json.dumps(info.get('n_cases', {}))}.\n",
        markdown_table(*_rows(result)),
        "\nMacro weighted F1 (CT-CLIP's: each class's present and absent F1 weighted by their "
        "support) / accuracy / precision, at per-class thresholds chosen on the calibration cases "
        "as the ROC point closest to (0, 1):\n\n",
        markdown_table(*_thresholded(result)),
        "\nSpoken report → volume Recall@5 / spoken query → pathology top-1:\n\n",
        markdown_table(*_secondary(result)),
        "\nWhat the app takes for a question (intent rule: best query cosine ≥ 0.5, ≤ 6 s, and "
        "the student's question head; typed text by its form), per kind of utterance: held-out "
        "spoken questions (should be 1), spoken CT-CLIP prompts such as 'Pleural effusion is "
        "present.' and held-out short findings such as 'Small left pleural effusion.' (both "
        "statements: should be 0), spoken report parts (should be 0):\n\n",
        markdown_table(*_routing(result)),
        _teacher_retrieval(info.get("teacher_retrieval") or {}),
        f"\n![ROC curves]({png.name})\n",
        "\n## Per-class AUROC (training voices)\n\n",
        _per_class(result),
        "\n## Per-class weighted F1 / accuracy / precision (training voices)\n\n",
        _per_class_thresholded(result),
    ]
    md = out_dir / "eval.md"
    md.write_text("\n".join(parts), encoding="utf-8")
    return md


def _teacher_retrieval(tr: dict) -> str:
    """The CT-CLIP retrieval metrics of the teacher on the whole test set, with chance."""
    if not tr:
        return ""
    chance = tr.get("chance", {})
    rows = []
    if "r2v_recall" in tr:
        for k, v in tr["r2v_recall"].items():
            rows.append([f"report → volume R@{k}", _f(v), _f(chance["r2v_recall"][k])])
    for k, v in tr["v2v_jaccard"].items():
        rows.append([f"volume → volume label Jaccard@{k}", _f(v), _f(chance["v2v_jaccard"])])
    return (
        f"\nText teacher retrieval on the whole test set ({tr['n']} typed reports and volumes; "
        "chance = a random ranking):\n\n" + markdown_table(["metric", "teacher", "chance"], rows)
    )


def _per_class(result: EvalResult, cond: str = "seen") -> str:
    from radvoice.labels import PATHOLOGIES

    systems = [s for s in SYSTEMS if cond in result.cells.get(s, {})]
    header = ["pathology"] + [SYSTEM_TITLES[s] for s in systems]
    rows = [
        [p] + [_f(result.cells[s][cond].per_class_auroc[p]) for s in systems] for p in PATHOLOGIES
    ]
    return markdown_table(header, rows) if systems else "(no results)\n"


def _per_class_thresholded(result: EvalResult, cond: str = "seen") -> str:
    from radvoice.labels import PATHOLOGIES

    systems = [s for s in SYSTEMS if (c := result.cells.get(s, {}).get(cond)) and c.per_class]
    header = ["pathology", "positives"] + [SYSTEM_TITLES[s] for s in systems]
    rows = []
    for p in PATHOLOGIES:
        support = result.cells[systems[0]][cond].per_class[p].get("support") if systems else None
        row = [p, "—" if support is None else str(int(support))]
        rows.append(row + [_metric_triple(result.cells[s][cond].per_class[p]) for s in systems])
    return markdown_table(header, rows) if systems else "(no results)\n"


def json_safe(obj):
    """NaN/inf → None, numpy scalars → Python, recursively (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
