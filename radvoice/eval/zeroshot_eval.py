"""``radvoice eval``'s computation: the four systems × the conditions, in the CT-CLIP protocol.

Systems: the text teacher (typed prompts / reports / queries), the speech student without and
with distillation (spoken ones), and the ASR cascade (Whisper transcript → text teacher).

Per system and condition:

* zero-shot classification of the test CT set with the system's prompt embeddings (each
  pathology's "present" / "not present" prompts averaged over templates — and, for speech, over
  the spoken prompts of that condition); AUROC, weighted F1, accuracy and precision per class and
  macro, thresholds chosen on the calibration set (ROC point closest to (0, 1)). Where the
  corpus speaks each prompt several times per condition (renditions ``_rK``, each by a voice
  drawn anew), one classifier is built per rendition and the metrics are their mean: a user
  speaks each prompt once, and one draw of voices moves a class's AUROC by up to ±0.08;
* spoken report (part) → volume Recall@{1,5,10} in a gallery of the report cases plus the
  test CT set;
* spoken query → pathology top-1 accuracy (teacher query prototypes).

Gap recovery = (speech KD − speech no-KD) / (text − speech no-KD), on macro AUROC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radvoice.eval.eval_sets import (
    CONDITIONS,
    CaseSet,
    EvalDataError,
    condition_utterances,
    noise_transform,
    transcripts,
)
from radvoice.labels import PATHOLOGIES
from radvoice.metrics import (
    bootstrap_macro_aurocs,
    classification_report,
    label_jaccard_at_k,
    macro_mean,
    recall_at_k,
)
from radvoice.nn.losses import label_jaccard
from radvoice.nn.query_rank import QUERY_TIE_MARGIN
from radvoice.nn.zeroshot import roc_thresholds, zero_shot_probabilities
from radvoice.training.student_data import (
    CorpusUtterance,
    FeatureCache,
    TeacherTargets,
    encoder_key,
)

log = logging.getLogger(__name__)
SYSTEMS: tuple[str, ...] = ("text", "speech_nokd", "speech_kd", "cascade")
SYSTEM_TITLES = {
    "text": "text teacher",
    "speech_nokd": "speech, no KD",
    "speech_kd": "speech, KD",
    "cascade": "ASR cascade",
}
Embedder = Callable[[list[CorpusUtterance]], torch.Tensor]


@dataclass
class CellResult:
    """One system on one condition."""

    macro: dict[str, float]
    # per class: AUROC, weighted F1, accuracy, precision at the calibration threshold, support
    per_class: dict[str, dict[str, float]]
    retrieval: dict[str, float] = field(default_factory=dict)
    query_top1: float = float("nan")
    query_shown: float = float("nan")  # the asked pathology is the best or a near-tie alternative
    routing: dict[str, float] = field(default_factory=dict)  # share the app takes for questions
    n_cases: int = 0
    n_prompts: int = 0
    cases: CaseSet | None = None  # the CTs scored
    # (cases, labels) probabilities per rendition of the spoken prompts (one for typed text)
    probs_draws: list[np.ndarray] = field(default_factory=list)
    auroc_first: float = float("nan")  # macro AUROC of the first rendition alone

    @property
    def per_class_auroc(self) -> dict[str, float]:
        return {p: m["auroc"] for p, m in self.per_class.items()}

    @property
    def probs(self) -> np.ndarray | None:
        """The first rendition's probabilities (ROC curves)."""
        return self.probs_draws[0] if self.probs_draws else None

    @property
    def roc(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Labels and probabilities of the known entries (for pooled ROC curves)."""
        if self.cases is None or self.probs is None:
            return None
        known = self.cases.known
        return self.cases.labels[known], self.probs[known]

    def to_dict(self) -> dict[str, Any]:
        return {
            "macro": self.macro,
            "per_class_auroc": self.per_class_auroc,
            "per_class": self.per_class,
            "retrieval": self.retrieval,
            "query_top1": self.query_top1,
            "query_shown": self.query_shown,
            "routed_as_question": self.routing,
            "n_cases": self.n_cases,
            "n_prompts": self.n_prompts,
            "renditions": max(len(self.probs_draws), 1),
            "auroc_first_rendition": self.auroc_first,
        }


@dataclass
class EvalResult:
    cells: dict[str, dict[str, CellResult]]
    gap_recovery: dict[str, float]
    info: dict[str, Any]
    gap_recovery_ci: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "systems": [s for s in SYSTEMS if s in self.cells],
            "conditions": list(self.gap_recovery),
            "results": {s: {c: r.to_dict() for c, r in d.items()} for s, d in self.cells.items()},
            "gap_recovery": self.gap_recovery,
            "gap_recovery_ci": self.gap_recovery_ci,
            "info": self.info,
        }


def gap_recovery(text: float, no_kd: float, kd: float) -> float:
    """(KD − no-KD) / (text − no-KD): the share of the text–speech gap distillation closes;
    undefined (NaN) where there is no gap, i.e. text does not beat no-KD."""
    if not all(np.isfinite([text, no_kd, kd])) or text - no_kd < 1e-9:
        return float("nan")
    return float((kd - no_kd) / (text - no_kd))


def gap_recovery_interval(
    cases: CaseSet,
    probs: list[np.ndarray | list[np.ndarray]],
    n_boot: int = 500,
    level: float = 0.95,
) -> dict[str, float]:
    """Percentile bootstrap interval of gap recovery over the cases (text, no-KD and KD
    resampled together). A system given as a list of renditions' probabilities scores the mean
    macro AUROC of its renditions on each resample. ``undefined``: the share of resamples where
    text does not beat no-KD; when it exceeds the interval's tail the bounds are NaN (the gap is
    not measurable there)."""
    per = [p if isinstance(p, list) else [p] for p in probs]
    flat = bootstrap_macro_aurocs(cases.labels, [a for p in per for a in p], cases.known, n_boot)
    ends = np.cumsum([len(p) for p in per])
    draws = np.stack([flat[:, e - len(p) : e].mean(1) for p, e in zip(per, ends, strict=True)], 1)
    gr = np.array([gap_recovery(*row) for row in draws])
    finite = gr[np.isfinite(gr)]
    undefined = 1.0 - finite.size / len(gr)
    tail = (1.0 - level) / 2
    if undefined > tail or not finite.size:
        return {"low": float("nan"), "high": float("nan"), "undefined": undefined}
    low, high = np.percentile(finite, [tail * 100, 100 - tail * 100])
    return {"low": float(low), "high": float(high), "undefined": undefined}


def rendition(utt: CorpusUtterance) -> int:
    """Which rendition of its prompt an utterance is (``prompt_NNN_test_rK.<split>`` → K)."""
    m = re.search(r"_r(\d+)(?:\.|$)", utt.utt_id)
    return int(m.group(1)) if m else 0


def rendition_groups(utts: list[CorpusUtterance]) -> list[list[int]]:
    """Indices of ``utts`` per rendition, in rendition order."""
    groups: dict[int, list[int]] = {}
    for i, u in enumerate(utts):
        groups.setdefault(rendition(u), []).append(i)
    return [groups[k] for k in sorted(groups)]


def speech_prompts(utts: list[CorpusUtterance], emb: torch.Tensor) -> torch.Tensor:
    """``(18, 2, D)``: per pathology and polarity, the normalised mean of spoken prompt embeddings."""
    d = emb.shape[-1]
    sums = torch.zeros(len(PATHOLOGIES), 2, d)
    counts = torch.zeros(len(PATHOLOGIES), 2)
    for u, e in zip(utts, emb, strict=True):
        side = 0 if u.polarity == 1 else 1
        sums[u.label_index, side] += F.normalize(e.float(), dim=0)
        counts[u.label_index, side] += 1
    if (counts == 0).any():
        missing = [PATHOLOGIES[i] for i in torch.nonzero(counts == 0)[:, 0].unique().tolist()]
        raise EvalDataError(f"no spoken prompt for {missing[0]} (and {len(missing) - 1} more)")
    return F.normalize(sums / counts[..., None], dim=-1)


def classify(
    ct: torch.Tensor, prompts: torch.Tensor, scale: float, cases: CaseSet, thresholds: np.ndarray
) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Zero-shot probabilities and the CT-CLIP metrics; unknown labels are left out per class."""
    probs = zero_shot_probabilities(ct, prompts, scale).numpy()
    report: dict[str, dict[str, float]] = {}
    for c, name in enumerate(PATHOLOGIES):
        keep = cases.known[:, c]
        one = classification_report(
            cases.labels[keep, c][:, None], probs[keep, c][:, None], [thresholds[c]], [name]
        )
        report[name] = one[name]
    report["macro"] = macro_mean(report, PATHOLOGIES)
    return report, probs


def calibrate(ct: torch.Tensor, prompts: torch.Tensor, scale: float, cases: CaseSet) -> np.ndarray:
    probs = zero_shot_probabilities(ct, prompts, scale).numpy()
    return roc_thresholds(cases.labels, probs)


@dataclass
class EvalInputs:
    """Everything :func:`evaluate` needs (see :func:`radvoice.eval.runner.build_inputs`)."""

    teacher: Any  # TeacherBundle
    students: dict[str, Any]  # "speech_nokd" / "speech_kd" → SpeechStudent
    utterances: list[CorpusUtterance]
    sets: dict[str, CaseSet]  # "test", "calib", "lung2"
    targets: TeacherTargets
    cache: Path
    report_cases: CaseSet | None = None  # cases of the spoken test reports (retrieval)
    cascade: bool = True
    cascade_size: str = "tiny.en"
    conditions: tuple[str, ...] = CONDITIONS


def _text_embed(targets: TeacherTargets, texts: list[str]) -> torch.Tensor:
    targets.ensure_text(texts)
    return targets.text_of(texts)


def _speech_embedder(student, cache: Path, tag: str, transform) -> Embedder:
    feats = FeatureCache(cache, encoder_key(student), tag)

    def embed(utts: list[CorpusUtterance]) -> torch.Tensor:
        from radvoice.training.student import embed_cached

        feats.ensure(student, utts, transform)
        return embed_cached(student, feats, utts, torch.device("cpu"))

    return embed


def _remembering(embed: Embedder) -> Embedder:
    """``embed`` that computes each utterance once: a cell's prompts and questions are embedded
    for zero-shot and top-1, then again by the routing check."""
    seen: dict[str, torch.Tensor] = {}

    def cached(utts: list[CorpusUtterance]) -> torch.Tensor:
        todo = list({u.utt_id: u for u in utts if u.utt_id not in seen}.values())
        if todo:
            seen.update(zip((u.utt_id for u in todo), embed(todo), strict=True))
        return torch.stack([seen[u.utt_id] for u in utts])

    return cached


def _cascade_embedder(inp: EvalInputs, tag: str, transform) -> Embedder:
    def embed(utts: list[CorpusUtterance]) -> torch.Tensor:
        text = transcripts(utts, inp.cache, tag, transform, inp.cascade_size)
        said = [text[u.utt_id].strip() or "(silence)" for u in utts]
        return _text_embed(inp.targets, said)

    return embed


def evaluate(inp: EvalInputs, progress: Callable[[str], None] | None = None) -> EvalResult:
    """All cells of the table (missing students/conditions are skipped and noted)."""
    bundle = inp.teacher
    scale = float(bundle.clip.logit_scale.detach())
    for s in inp.sets.values():
        inp.targets.ensure_ct(s.loaders)
    ct = {k: inp.targets.ct_of(s.case_ids) for k, s in inp.sets.items()}
    protos = bundle.query_prototypes
    if protos is None:
        from radvoice.nn.zeroshot import build_query_prototypes

        with torch.no_grad():
            protos = build_query_prototypes(bundle.clip.encode_text).cpu()
    protos = protos.float()
    cells: dict[str, dict[str, CellResult]] = {}
    systems = ["text", *[s for s in ("speech_nokd", "speech_kd") if s in inp.students]]
    if inp.cascade:
        systems.append("cascade")
    for system in systems:
        cells[system] = {}
        for cond in inp.conditions:
            if progress is not None:
                progress(f"{system} / {cond}")
            cell = _cell(inp, system, cond, ct, scale, protos)
            if cell is not None:
                cells[system][cond] = cell
    gap, gap_ci = {}, {}
    for cond in inp.conditions:
        try:
            trio = [cells[s][cond] for s in ("text", "speech_nokd", "speech_kd")]
        except KeyError:
            gap[cond] = float("nan")
            continue
        gap[cond] = gap_recovery(*(c.macro["auroc"] for c in trio))
        gap_ci[cond] = gap_recovery_interval(trio[0].cases, [c.probs_draws for c in trio])
    info = {
        "teacher_retrieval": teacher_retrieval(inp, ct["test"]),
        "n_cases": {k: len(s) for k, s in inp.sets.items()},
        "logit_scale": scale,
        "systems_missing": [s for s in SYSTEMS if s not in cells],
        "cascade_whisper": inp.cascade_size if inp.cascade else None,
    }
    return EvalResult(cells, gap, info, gap_ci)


def teacher_retrieval(inp: EvalInputs, ct: torch.Tensor) -> dict:
    """The CT-CLIP retrieval metrics on the whole test set: each typed report → its volume
    (Recall@1/5/10/50, gallery = the test set) and volume → volume mean label Jaccard@1/5/10,
    with what a random ranking scores (``chance``)."""
    cases = inp.sets["test"]
    if len(cases) < 2:
        return {}
    emb = ct.float().numpy()
    out: dict[str, Any] = {"n": len(cases)}
    out["v2v_jaccard"] = {str(k): v for k, v in label_jaccard_at_k(emb, cases.labels).items()}
    y = torch.from_numpy(cases.labels)
    jac = label_jaccard(y, y).numpy()  # a random neighbour: the mean over all other volumes
    chance = {"v2v_jaccard": float(jac[~np.eye(len(jac), dtype=bool)].mean())}
    if cases.reports:
        txt = _text_embed(inp.targets, cases.reports).float().numpy()
        out["r2v_recall"] = {str(k): v for k, v in recall_at_k(txt @ emb.T).items()}
        chance["r2v_recall"] = {str(k): min(k / len(cases), 1.0) for k in (1, 5, 10, 50)}
    out["chance"] = chance
    return out


def report_retrieval(inp: EvalInputs, embed: Embedder, reports: list[CorpusUtterance]) -> dict:
    """Spoken report (or report part) → its volume among the report cases + the test CT set."""
    assert inp.report_cases is not None
    ids = list(dict.fromkeys(inp.report_cases.case_ids + inp.sets["test"].case_ids))
    have = [u for u in reports if u.case_id in set(inp.report_cases.case_ids)]
    if not have:
        return {}
    sim = (embed(have).float() @ inp.targets.ct_of(ids).T).numpy()
    truth = np.array([ids.index(u.case_id) for u in have])
    true_sim = sim[np.arange(len(have)), truth]
    rank = (sim > true_sim[:, None]).sum(axis=1)  # ties favour the truth, as recall_at_k does
    out = {f"R@{k}": float(np.mean(rank < k)) for k in (1, 5, 10)}
    out.update(n=len(have), gallery=len(ids))
    return out


def _cell(inp: EvalInputs, system, cond, ct, scale, protos) -> CellResult | None:
    utts = condition_utterances(inp.utterances, cond)
    prompts_u = [u for u in utts if u.kind == "prompt"]
    reports_u = [u for u in utts if u.kind == "report"]
    queries_u = [u for u in utts if u.kind == "query" and u.label is not None]
    noisy = cond == "noise_10db"
    transform = noise_transform() if noisy else None
    tag = "snr10" if noisy else "clean"
    if system == "text":
        embed: Embedder = lambda us: _text_embed(inp.targets, [u.text for u in us])  # noqa: E731
        draws = [inp.teacher.prompts.float()]
        n_prompts = draws[0].shape[0] * 2
    else:
        if system == "cascade":
            embed = _remembering(_cascade_embedder(inp, tag, transform))
        else:
            embed = _remembering(_speech_embedder(inp.students[system], inp.cache, tag, transform))
        if not prompts_u:
            log.warning(f"{system} / {cond}: no spoken prompts, skipped")
            return None
        emb = embed(prompts_u)
        draws = [
            speech_prompts([prompts_u[i] for i in g], emb[g]) for g in rendition_groups(prompts_u)
        ]
        n_prompts = len(prompts_u)
    test_key = "lung2" if cond == "lung2" else "test"
    if test_key not in inp.sets:
        return None
    cases = inp.sets[test_key]
    reports, probs_draws = [], []
    for prompts in draws:
        thresholds = calibrate(ct["calib"], prompts, scale, inp.sets["calib"])
        report, probs = classify(ct[test_key], prompts, scale, cases, thresholds)
        reports.append(report)
        probs_draws.append(probs)
    cell = CellResult(
        macro={k: float(np.mean([r["macro"][k] for r in reports])) for k in reports[0]["macro"]},
        per_class={
            p: {k: float(np.mean([r[p][k] for r in reports])) for k in reports[0][p]}
            for p in PATHOLOGIES
        },
        n_cases=len(cases),
        n_prompts=n_prompts,
        cases=cases,
        probs_draws=probs_draws,
        auroc_first=reports[0]["macro"]["auroc"],
    )
    if cond != "lung2" and reports_u and inp.report_cases is not None:
        cell.retrieval = report_retrieval(inp, embed, reports_u)
    if cond != "lung2" and queries_u:
        q = F.normalize(embed(queries_u).float(), dim=-1)
        sims = (q @ protos.T).numpy()
        truth = np.array([u.label_index for u in queries_u])
        cell.query_top1 = float(np.mean(sims.argmax(-1) == truth))
        own = sims[np.arange(len(truth)), truth]
        cell.query_shown = float(np.mean(sims.max(-1) - own <= QUERY_TIE_MARGIN))
        findings_u = [u for u in utts if u.kind == "finding"]
        kinds = {
            "questions": queries_u,
            "statements": prompts_u,
            "findings": findings_u,
            "report_parts": reports_u,
        }
        cell.routing = intent_routing(inp, system, embed, kinds, protos, tag, transform)
    return cell


def intent_routing(
    inp: EvalInputs,
    system: str,
    embed: Embedder,
    kinds: dict[str, list[CorpusUtterance]],
    protos: torch.Tensor,
    tag: str,
    transform,
) -> dict[str, float]:
    """The share of each kind of utterance the app's intent rule takes for a question
    (:func:`radvoice.assistant.intent.classify_intent`, whose rule is
    :func:`radvoice.nn.intent_rules.asks`: best query cosine, length, and the
    question head when the student has one; typed text: its form)."""
    import soundfile as sf

    from radvoice.nn.intent_rules import (
        TYPED_WORDS_PER_SECOND,
        IntentRules,
        asks,
        text_question_probability,
    )

    rules = IntentRules()
    student = inp.students.get(system)
    out: dict[str, float] = {}
    for name, us in kinds.items():
        if not us:
            continue
        score = (F.normalize(embed(us).float(), dim=-1) @ protos.T).max(-1).values.numpy()
        if system == "text":
            seconds = np.array([len(u.text.split()) / TYPED_WORDS_PER_SECOND for u in us])
            question = np.array([text_question_probability(u.text) for u in us])
        else:
            seconds = np.array([sf.info(str(u.path)).duration for u in us])
            question = np.ones(len(us))
            if student is not None and student.question is not None:
                question = _question_probs(student, inp.cache, tag, transform, us)
        out[name] = float(np.mean(asks(score, seconds, question, rules)))
    return out


def _question_probs(student, cache: Path, tag: str, transform, utts) -> np.ndarray:
    from radvoice.training.question_head import question_probabilities

    feats = FeatureCache(cache, encoder_key(student), tag)
    feats.ensure(student, utts, transform)
    return question_probabilities(student, feats, utts)
