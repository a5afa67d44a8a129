"""Development scores computed while a speech student trains: passed to
:func:`radvoice.training.student.train_student` as its ``dev_eval`` callback (training imports
nothing from :mod:`radvoice.eval`)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from radvoice.eval.eval_sets import EvalDataError
from radvoice.eval.zeroshot_eval import speech_prompts
from radvoice.metrics import macro_auroc
from radvoice.nn.zeroshot import zero_shot_probabilities
from radvoice.training.student import StudentData, embed_cached
from radvoice.training.student_data import CorpusUtterance

DEV_ENGINE_DRAWS = 20  # classifiers drawn for ``zs_dev_engine``


def dev_zero_shot(student, data: StudentData, device: torch.device) -> dict[str, float]:
    """Zero-shot macro AUROC on the corpus's unspoken CT cases with the val voices' spoken
    prompts (``zs_dev``) and with the teacher's typed prompts (``zs_dev_text``): a development
    score for choices between students that leaves the test splits alone. Empty without val
    prompts or with fewer than 10 such cases.

    With dev engines (``data.dev_engines``): ``zs_dev_engine``, the mean over
    :data:`DEV_ENGINE_DRAWS` classifiers made as a test column makes them, one rendition of each
    prompt text drawn from the dev engines' (so a voice's quirks are not averaged away), and
    ``cos_dev_engine``, those prompts' mean cosine to the teacher's embedding of their text."""

    prompts_u = [u for u in data.val_queries if u.kind == "prompt"]
    if not prompts_u or len(data.dev_cases) < 10:
        return {}
    bundle = data.targets.bundle
    ct = data.targets.ct_of(data.dev_cases).float()
    labels = np.stack([data.labels[c] for c in data.dev_cases])
    scale = float(bundle.clip.logit_scale.detach().float())

    def auroc(utts: list[CorpusUtterance], emb: torch.Tensor) -> float:
        probs = zero_shot_probabilities(ct, speech_prompts(utts, emb), scale)
        return macro_auroc(labels, probs.numpy())

    out = {
        "zs_dev_text": macro_auroc(
            labels, zero_shot_probabilities(ct, bundle.prompts.float().cpu(), scale).numpy()
        )
    }
    with contextlib.suppress(EvalDataError):
        out["zs_dev"] = auroc(prompts_u, embed_cached(student, data.features, prompts_u, device))
    held = data.dev_engine_prompts
    if held:
        emb = embed_cached(student, data.features, held, device)
        txt = data.targets.text_of([u.text for u in held]).float()
        out["cos_dev_engine"] = float((emb * txt).sum(-1).mean())
        by_text: dict[str, list[int]] = {}
        for i, u in enumerate(held):
            by_text.setdefault(u.text, []).append(i)
        rng = np.random.default_rng(0)
        scores = []
        for _ in range(DEV_ENGINE_DRAWS):
            pick = [int(rng.choice(ix)) for ix in by_text.values()]
            try:
                scores.append(auroc([held[i] for i in pick], emb[pick]))
            except EvalDataError:
                break
        if scores:
            out["zs_dev_engine"] = float(np.mean(scores))
    return out
