"""Speaker/engine splits and the corpus-level speech API (WAVs + manifest, resumable)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from radvoice.data import speech
from radvoice.data.augment import AugmentPolicy
from radvoice.data.speech import (
    SpeechCorpusError,
    SpeechItem,
    SpeechJob,
    plan_for_engines,
    plan_jobs,
    read_speech_manifest,
    summarize_speech,
    synthesize_corpus_audio,
    text_split_of,
)
from radvoice.data.speech_splits import (
    SPEECH_SPLITS,
    SplitPlan,
    SplitPlanError,
    make_split_plan,
)
from radvoice.data.voices import Voice, identity, voice_catalog

REPORT = (
    "The trachea is patent. Heart size is enlarged. There is a 6 mm nodule in the right upper "
    "lobe. Bilateral pleural effusion. No lymphadenopathy."
)


@pytest.fixture(scope="module")
def full_plan() -> SplitPlan:
    return make_split_plan(voice_catalog(), seed=0)


@pytest.fixture(scope="module")
def small_plan() -> SplitPlan:
    """espeak-ng (two accents) for train/val/unseen speaker, flite held out as the unseen
    engine: fast engines only."""
    cat = [
        v
        for v in voice_catalog(("espeak-ng", "flite"))
        if v.voice in ("en-us", "en-gb", "awb", "rms")
    ]
    return make_split_plan(cat, seed=1, held_out_engines=("flite",))


def test_full_plan_is_disjoint_by_identity_and_engine(full_plan: SplitPlan) -> None:
    full_plan.check()
    train = full_plan.voices("train")
    train_ids = {identity(v) for v in train}
    assert {v.engine for v in train} == {"espeak-ng", "flite"}
    for split in ("val", "test_unseen_speaker", "test_unseen_engine"):
        voices = full_plan.voices(split)
        assert voices, split
        assert not train_ids & {identity(v) for v in voices}
        assert not {v.speaker for v in train} & {v.speaker for v in voices}
    assert {v.engine for v in full_plan.voices("test_unseen_engine")} == {"piper", "festival"}
    # the people behind festival's kal/slt voices are not trained on through flite either
    assert not {"kal", "slt"} & train_ids
    assert full_plan.voices("test_seen") == train
    assert set(full_plan.active_splits()) == set(SPEECH_SPLITS)


def test_plan_is_deterministic_and_round_trips(full_plan: SplitPlan, tmp_path: Path) -> None:
    again = make_split_plan(voice_catalog(), seed=0)
    assert again.speakers == full_plan.speakers
    other = make_split_plan(voice_catalog(), seed=5)
    assert other.speakers["val"] != full_plan.speakers["val"]
    loaded = SplitPlan.load(full_plan.save(tmp_path / "plan.json"))
    assert loaded.speakers == full_plan.speakers
    assert loaded.held_out_engines == ["piper", "festival"]


def test_check_catches_leaks(full_plan: SplitPlan) -> None:
    leaky = SplitPlan(
        speakers={
            **full_plan.speakers,
            "train": [*full_plan.speakers["train"], full_plan.speakers["val"][0]],
        }
    )
    with pytest.raises(SplitPlanError, match="val shares identities"):
        leaky.check()
    engine_leak = SplitPlan(
        speakers={
            **full_plan.speakers,
            "train": [*full_plan.speakers["train"], "piper:en_US-joe-medium"],
        },
        held_out_engines=["piper", "festival"],
    )
    with pytest.raises(SplitPlanError, match="held-out engine"):
        engine_leak.check()
    with pytest.raises(SplitPlanError, match="no training voices"):
        make_split_plan([Voice("piper", "en_US-joe-medium")], held_out_engines=("piper",))


def test_plan_for_voices_option() -> None:
    only_espeak = plan_for_engines("espeak-ng", seed=0)
    assert only_espeak.voices("test_unseen_engine") == []
    assert {v.engine for v in only_espeak.voices("train")} == {"espeak-ng"}
    with pytest.raises(ValueError):
        plan_for_engines("espeak-ng,bogus")


def test_jobs_follow_text_splits(full_plan: SplitPlan) -> None:
    items = [SpeechItem(f"c{i}", REPORT, "report") for i in range(300)]
    jobs = plan_jobs(items, full_plan, seed=0)
    by_item: dict[str, list] = {}
    for j in jobs:
        by_item.setdefault(j.item.id, []).append(j)
        assert j.voice.speaker in full_plan.speakers["train" if j.split == "test_seen" else j.split]
        assert 0.85 <= j.voice.rate <= 1.2 and -3 <= j.voice.pitch <= 3
        assert (j.augmentation != []) <= (j.split == "train")
    for item_id, js in by_item.items():
        tsplit = text_split_of(item_id)
        splits = sorted(j.split for j in js)
        if tsplit == "test":
            assert splits == ["test_seen", "test_unseen_engine", "test_unseen_speaker"]
        else:
            assert splits == [tsplit]
    counts = {s: sum(text_split_of(i.id) == s for i in items) for s in ("train", "val", "test")}
    assert counts["train"] > 200 and counts["val"] > 10 and counts["test"] > 10
    engines = [j.voice.engine for j in jobs if j.split == "train"]
    assert 0.25 < engines.count("flite") / len(engines) < 0.75  # engines balanced, not by count
    grouped = [
        SpeechItem(f"g{i}_{k}", "any effusion?", "query", group=f"case{i}")
        for i in range(40)
        for k in range(3)
    ]
    gsplits: dict[str, set[str]] = {}
    for j in plan_jobs(grouped, full_plan, seed=0):
        gsplits.setdefault(j.item.group or "", set()).add(j.text_split)
    assert all(len(s) == 1 for s in gsplits.values()) and len(set.union(*gsplits.values())) > 1
    again = plan_jobs(items[::-1], full_plan, seed=0)
    assert sorted(again, key=lambda j: j.utt_id) == sorted(jobs, key=lambda j: j.utt_id)


def _items() -> list[SpeechItem]:
    return [
        SpeechItem("rep_a", REPORT, "report", "train"),
        SpeechItem("rep_b", REPORT, "report", "val"),
        SpeechItem("rep_c", REPORT, "report", "test"),
        SpeechItem("q_a", "is there a pleural effusion?", "query", "train"),
    ]


def test_corpus_audio_manifest_and_resume(
    small_plan: SplitPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "speech"
    ticks: list[tuple[int, int]] = []
    rows = synthesize_corpus_audio(
        _items(), out, small_plan, seed=3, workers=1, progress=lambda d, t: ticks.append((d, t))
    )
    assert ticks[-1] == (6, 6)
    assert [r["id"] for r in rows] == sorted(
        [
            "q_a",
            "rep_a",
            "rep_b",
            "rep_c.test_seen",
            "rep_c.test_unseen_engine",
            "rep_c.test_unseen_speaker",
        ]
    )
    for r in rows:
        audio, rate = sf.read(out / r["path"], dtype="float32")
        assert rate == 16_000 and sf.info(out / r["path"]).subtype == "PCM_16"
        assert audio.size / rate == pytest.approx(r["duration"], abs=1e-3)
        assert 0.5 < r["duration"] <= 30.0 and np.sqrt(np.mean(audio**2)) > 0.005
        assert Voice.from_dict(r).speaker == r["speaker"]
        assert set(speech.MANIFEST_FIELDS) <= set(r)
    by_id = {r["id"]: r for r in rows}
    assert by_id["rep_c.test_unseen_engine"]["engine"] == "flite"
    assert by_id["rep_b"]["split"] == "val" and by_id["rep_b"]["augmentation"] == []
    assert by_id["rep_a"]["spoken_text"] == REPORT and not by_id["rep_a"]["truncated"]
    assert read_speech_manifest(out) == rows
    config = json.loads((out / "speech_config.json").read_text())
    assert (
        config["seed"] == 3
        and SplitPlan.from_dict(config["split_plan"]).speakers == small_plan.speakers
    )
    summary = summarize_speech(rows)
    assert summary["splits"]["test_unseen_engine"]["utterances"] == 1

    # resume: everything is done, so nothing may be synthesized again
    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("re-synthesized a finished utterance")

    monkeypatch.setattr(speech, "run_job", boom)
    assert synthesize_corpus_audio(_items(), out, small_plan, seed=3) == rows
    with pytest.raises(SpeechCorpusError, match="other settings"):
        synthesize_corpus_audio(_items(), out, small_plan, seed=4)


def test_resume_after_interruption_and_workers_agree(small_plan: SplitPlan, tmp_path: Path) -> None:
    items = [
        SpeechItem(f"q{i}", f"check for emphysema number {i}", "query", "train") for i in range(4)
    ]
    one = synthesize_corpus_audio(items, tmp_path / "one", small_plan, seed=9, workers=1)
    # simulate a killed run: half the manifest, a partial last line, one WAV missing
    manifest = tmp_path / "one" / speech.MANIFEST_NAME
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])
    (tmp_path / "one" / one[0]["path"]).unlink()
    resumed = synthesize_corpus_audio(items, tmp_path / "one", small_plan, seed=9, workers=1)
    assert resumed == one
    two = synthesize_corpus_audio(items, tmp_path / "two", small_plan, seed=9, workers=2)
    assert [(r["id"], r["speaker"], r["augmentation"]) for r in two] == [
        (r["id"], r["speaker"], r["augmentation"]) for r in one
    ]
    assert [r["duration"] for r in two] == pytest.approx([r["duration"] for r in one], abs=0.02)


def test_long_report_is_capped_at_sentence_boundary(small_plan: SplitPlan, tmp_path: Path) -> None:
    long = " ".join([REPORT] * 4)
    slow = AugmentPolicy(p_clean=0.0, p_speed=1.0, speed_range=(0.8, 0.8), p_reverb=0.0)
    rows = synthesize_corpus_audio(
        [SpeechItem("long", long, "report", "train")],
        tmp_path,
        small_plan,
        seed=0,
        max_seconds=6.0,
        split_long=False,
        augment_policy=slow,
    )
    (row,) = rows
    assert row["augmentation"][0] == {"op": "speed", "factor": 0.8}
    assert row["truncated"] and 3.0 < row["duration"] <= 6.0  # slowed down, still within cap
    assert long.startswith(row["spoken_text"]) and row["spoken_text"].endswith(".")


def test_long_report_is_spoken_in_parts(small_plan: SplitPlan, tmp_path: Path) -> None:
    long = " ".join([REPORT] * 2)
    rows = synthesize_corpus_audio(
        [SpeechItem("long", long, "report", "val")], tmp_path, small_plan, seed=0, max_seconds=8.0
    )
    assert len(rows) >= 3
    assert [r["id"] for r in rows] == [f"long.p{k}" for k in range(len(rows))]
    assert all(r["parts"] == len(rows) and r["item_id"] == "long" for r in rows)
    assert len({r["speaker"] for r in rows}) == 1  # one reader for the whole report
    assert " ".join(r["text"] for r in rows) == long  # every sentence is heard, in order
    assert all(r["duration"] <= 8.0 and not r["truncated"] for r in rows)
    assert [r["part"] for r in rows] == list(range(len(rows)))
    assert speech.chunk_report("A b. C d. E f.", None) == ["A b. C d. E f."]
    assert speech.chunk_report("A b. C d. E f.", 9) == ["A b. C d.", "E f."]


def test_bad_items_are_rejected(small_plan: SplitPlan, tmp_path: Path) -> None:
    with pytest.raises(SpeechCorpusError, match="kind"):
        synthesize_corpus_audio([("a", "text", "poem")], tmp_path, small_plan)
    with pytest.raises(SpeechCorpusError, match="duplicate"):
        synthesize_corpus_audio([("a", "x", "query"), ("a", "y", "query")], tmp_path, small_plan)
    with pytest.raises(SpeechCorpusError, match="empty"):
        synthesize_corpus_audio([("a", " ", "query")], tmp_path, small_plan)
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\nnot json\n{"id": 2}\n')
    with pytest.raises(SpeechCorpusError, match="line 2"):
        read_speech_manifest(tmp_path / "bad.jsonl")


def test_babble_comes_from_training_voices(small_plan: SplitPlan, tmp_path: Path) -> None:
    bank = speech.babble_speakers(small_plan, seed=0)
    assert bank and set(bank) <= set(small_plan.speakers["train"])
    jobs = plan_jobs(
        [SpeechItem(f"q{i}", "any nodules?", "query", "train") for i in range(60)], small_plan, 0
    )
    with_babble = [j for j in jobs if any(s.get("kind") == "babble" for s in j.augmentation)]
    assert with_babble and all(j.babble_voices == bank for j in with_babble)
    assert all(j.babble_voices == () for j in jobs if j not in with_babble)
    step = {"op": "noise", "kind": "babble", "snr_db": 0.0, "seed": 1}
    job = with_babble[0]
    talk = speech.run_job(
        SpeechJob(**{**job.__dict__, "augmentation": [step], "utt_id": "a"}), str(tmp_path), 30.0
    )
    shaped = speech.run_job(
        SpeechJob(**{**job.__dict__, "augmentation": [step], "utt_id": "b", "babble_voices": ()}),
        str(tmp_path),
        30.0,
    )
    a, _ = sf.read(tmp_path / talk["path"], dtype="float32")
    b, _ = sf.read(tmp_path / shaped["path"], dtype="float32")
    assert a.shape == b.shape and not np.allclose(a, b, atol=1e-3)
