"""The spoken viewer commands: name → title, phrasings, and the held-out phrasing rule.

Every voice command dispatches the CommandRegistry command of the same name (one registry for
buttons, keys, dictation-mic buttons and voice). A command is spoken in many ways: its *core
phrasings* (synonyms, and noun phrases inside verb frames: "lung window", "switch to the lung
window") wrapped in politeness ("please", "could you") and fillers ("uh,", "okay,"). The
command head (:mod:`radvoice.training.command_head`) learns them from speech; a fixed ~20 % of
the core phrasings of every command (by CRC-32, :func:`core_held_out`) never enter training,
so the evaluation hears wordings the model never heard, in voices it never heard.

Radiological convention: "next image", "scroll down", "down" → ``view.slice.next``;
"previous", "scroll up", "back one" → ``view.slice.previous``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

NOT_A_COMMAND = "none"
"""The command head's class for everything else (questions, findings, reports)."""
COMMAND_OUTPUT = "command"
"""The command head's name among a streaming session's outputs."""


@dataclass(frozen=True)
class VoiceCommandSpec:
    """One spoken command: the registry ``name``, a ``title`` for messages and the help
    panel, ``examples`` (what the help panel lists), ``phrases`` (complete utterances, verbs
    included) and ``nouns`` (noun phrases said alone or inside :data:`NOUN_FRAMES`)."""

    name: str
    title: str
    examples: tuple[str, ...]
    phrases: tuple[str, ...] = ()
    nouns: tuple[str, ...] = ()


NOUN_FRAMES: tuple[str, ...] = (
    "{n}",
    "switch to {n}",
    "go to {n}",
    "give me {n}",
    "change to {n}",
    "set {n}",
    "use {n}",
    "show {n}",
)
"""How a noun-phrase command is said ("the lung window" → "switch to the lung window")."""

POLITE: tuple[tuple[str, str], ...] = (
    ("", ""),
    ("", " please"),
    ("please ", ""),
    ("could you ", ""),
    ("can you ", " please"),
    ("can we ", ""),
    ("let's ", ""),
    ("now ", ""),
)
"""(prefix, suffix) pairs; "could you"/"can you"/"let's" only before a verb."""

FILLERS: tuple[str, ...] = ("", "uh, ", "um, ", "okay, ", "alright, ", "so ", "and ")


def _spec(name, title, examples, phrases=(), nouns=()) -> VoiceCommandSpec:
    return VoiceCommandSpec(name, title, tuple(examples), tuple(phrases), tuple(nouns))


_WINDOW = ("window", "windows", "setting", "preset")

_SPECS: tuple[VoiceCommandSpec, ...] = (
    _spec(
        "view.preset.lung",
        "Lung window",
        ["lung window", "switch to the lung window"],
        ["lung window on", "window for the lungs"],
        [f"{a}{b} {w}" for a in ("", "the ") for b in ("lung", "pulmonary") for w in _WINDOW],
    ),
    _spec(
        "view.preset.mediastinum",
        "Mediastinum (soft-tissue) window",
        ["mediastinal window", "soft tissue window"],
        ["soft tissue", "mediastinum window"],
        [
            f"{a}{b} {w}"
            for a in ("", "the ")
            for b in ("mediastinal", "soft tissue", "mediastinum")
            for w in ("window", "setting", "preset")
        ],
    ),
    _spec(
        "view.preset.bone",
        "Bone window",
        ["bone window", "bone windows"],
        ["bones window", "window for the bones"],
        [f"{a}{b} {w}" for a in ("", "the ") for b in ("bone", "skeletal") for w in _WINDOW],
    ),
    _spec(
        "view.preset.brain",
        "Brain window",
        ["brain window"],
        ["window for the brain"],
        [f"{a}{b} {w}" for a in ("", "the ") for b in ("brain", "head") for w in _WINDOW],
    ),
    _spec(
        "view.preset.header",
        "Window from the DICOM header",
        ["default window", "header window"],
        ["window from the header", "back to the default window"],
        [
            f"{a}{b} {w}"
            for a in ("", "the ")
            for b in ("default", "header", "original", "DICOM", "scanner")
            for w in ("window", "windowing", "setting")
        ],
    ),
    _spec(
        "render.preset.ct-bone",
        "3D: CT bone",
        ["3D bone", "volume render the bones"],
        ["volume render the bones", "render the skeleton", "bones in three D"],
        [
            "three D bone",
            "3D bone",
            "3D bones",
            "the bone rendering",
            "bone volume rendering",
            "3D skeleton",
        ],
    ),
    _spec(
        "render.preset.ct-lung",
        "3D: CT lung",
        ["3D lung", "volume render the lungs"],
        ["volume render the lungs", "render the lungs", "lungs in three D"],
        [
            "three D lung",
            "3D lung",
            "3D lungs",
            "the lung rendering",
            "lung volume rendering",
            "3D airways",
        ],
    ),
    _spec(
        "render.preset.soft-tissue",
        "3D: soft tissue",
        ["3D soft tissue", "soft tissue rendering"],
        ["volume render the soft tissue", "render the soft tissue", "soft tissue in three D"],
        [
            "three D soft tissue",
            "3D soft tissue",
            "soft tissue rendering",
            "the soft tissue rendering",
        ],
    ),
    _spec(
        "render.preset.mip",
        "3D: maximum intensity projection",
        ["MIP", "maximum intensity projection"],
        ["make a MIP", "render a MIP"],
        ["MIP", "a MIP", "maximum intensity projection", "3D MIP", "the MIP rendering"],
    ),
    _spec(
        "view.slice.next",
        "Next slice",
        ["next image", "scroll down", "next slice"],
        [
            "next image",
            "next slice",
            "scroll down",
            "down",
            "down one",
            "next",
            "next one",
            "one down",
            "forward one slice",
            "go down a slice",
            "move down one image",
            "advance one slice",
        ],
    ),
    _spec(
        "view.slice.previous",
        "Previous slice",
        ["previous image", "scroll up", "back one"],
        [
            "previous image",
            "previous slice",
            "scroll up",
            "up",
            "up one",
            "previous",
            "back one",
            "one up",
            "back one slice",
            "go up a slice",
            "move up one image",
        ],
    ),
    _spec(
        "view.slice.first",
        "First slice",
        ["first slice", "go to the top"],
        [
            "first slice",
            "first image",
            "go to the top",
            "top of the stack",
            "jump to the first slice",
            "all the way up",
            "back to the top",
            "go to the first image",
        ],
    ),
    _spec(
        "view.slice.last",
        "Last slice",
        ["last slice", "go to the bottom"],
        [
            "last slice",
            "final image",
            "go to the bottom",
            "bottom of the stack",
            "jump to the last slice",
            "all the way down",
            "down to the bottom",
            "go to the last image",
        ],
    ),
    *(
        _spec(
            f"view.maximize.{plane}",
            f"Maximise the {plane} view",
            [f"maximize {plane}", f"{plane} full screen"],
            [
                f"maximize {plane}",
                f"maximize the {plane} view",
                f"{plane} full screen",
                f"full screen {plane}",
                f"enlarge the {plane}",
                f"{plane} only",
                f"make the {plane} big",
                f"blow up the {plane} view",
                f"just the {plane}",
                f"{plane} view large",
            ],
            [f"the {plane} view", f"{plane} view"],
        )
        for plane in ("axial", "coronal", "sagittal")
    ),
    _spec(
        "view.restore",
        "Restore all views",
        ["restore", "show all views"],
        [
            "restore",
            "restore the views",
            "restore layout",
            "show all views",
            "back to all views",
            "four up",
            "all four views",
            "minimize",
            "exit full screen",
            "un maximize",
            "back to the grid",
            "normal layout",
        ],
    ),
    _spec(
        "view.zoom.in",
        "Zoom in",
        ["zoom in", "magnify"],
        [
            "zoom in",
            "zoom in a bit",
            "magnify",
            "closer",
            "make it bigger",
            "enlarge the image",
            "get closer",
            "zoom",
            "more zoom",
            "zoom in more",
        ],
    ),
    _spec(
        "view.zoom.out",
        "Zoom out",
        ["zoom out"],
        [
            "zoom out",
            "zoom out a bit",
            "less zoom",
            "farther",
            "make it smaller",
            "shrink the image",
            "back out",
            "zoom out more",
            "pull back",
            "wider view",
        ],
    ),
    _spec(
        "view.reset",
        "Reset the views",
        ["reset view", "reset"],
        [
            "reset",
            "reset view",
            "reset the view",
            "reset the views",
            "reset zoom",
            "reset everything",
            "fit to window",
            "start fresh",
            "default view",
            "recenter",
        ],
    ),
    _spec(
        "view.crosshair",
        "Crosshair on/off",
        ["crosshair on", "crosshair off", "toggle the crosshair"],
        [
            "crosshair on",
            "crosshair off",
            "toggle the crosshair",
            "toggle crosshairs",
            "show the crosshair",
            "hide the crosshair",
            "crosshairs",
            "turn on the crosshair",
            "turn off the crosshair",
            "cross hair",
            "reference lines",
            "hide the reference lines",
        ],
    ),
    _spec(
        "priors.show",
        "Show similar prior cases",
        ["show priors", "find similar cases"],
        [
            "show priors",
            "show the priors",
            "show prior studies",
            "find similar cases",
            "similar cases",
            "pull up similar cases",
            "look up priors",
            "search the library",
            "find cases like this",
            "show me similar studies",
            "priors please",
            "any similar cases",
        ],
    ),
    _spec(
        "priors.compare",
        "Compare with the top prior",
        ["compare with prior", "open the prior side by side"],
        [
            "compare with prior",
            "compare with the prior",
            "compare to the prior study",
            "open the prior",
            "open the top prior",
            "prior side by side",
            "open the prior side by side",
            "comparison with the old study",
            "compare with the best match",
            "bring up the prior for comparison",
        ],
    ),
    _spec(
        "heatmap.toggle",
        "Heat map on/off",
        ["heat map on", "heat map off", "show the heat map"],
        [
            "heat map on",
            "heat map off",
            "heat map",
            "show the heat map",
            "hide the heat map",
            "toggle the heat map",
            "turn on the heat map",
            "turn off the heat map",
            "overlay on",
            "overlay off",
            "show the overlay",
            "hide the overlay",
        ],
    ),
    _spec(
        "heatmap.jump",
        "Jump to the finding",
        ["jump to finding", "go to the finding"],
        [
            "jump to finding",
            "jump to the finding",
            "go to the finding",
            "go to the lesion",
            "take me to the finding",
            "center on the finding",
            "show me the hot spot",
            "jump to the hot spot",
            "navigate to the finding",
            "jump to the maximum",
        ],
    ),
    _spec(
        "file.screenshot",
        "Save a screenshot",
        ["screenshot", "take a screenshot"],
        [
            "screenshot",
            "take a screenshot",
            "screen shot",
            "capture the screen",
            "save a snapshot",
            "snapshot",
            "grab the screen",
            "save this image",
            "save a picture",
            "take a picture of this",
        ],
    ),
    _spec(
        "file.export_findings",
        "Export the findings",
        ["export findings", "export the findings"],
        [
            "export findings",
            "export the findings",
            "save the findings",
            "send the findings",
            "export the results",
            "write out the findings",
            "export to file",
            "save the results",
            "export",
            "findings export",
        ],
    ),
    _spec(
        "voice.undo",
        "Undo the last voice action",
        ["scratch that", "undo"],
        [
            "scratch that",
            "undo",
            "undo that",
            "cancel that",
            "never mind",
            "take that back",
            "revert",
            "undo the last one",
            "delete that",
            "oops undo",
        ],
    ),
    _spec(
        "voice.help",
        "What can I say?",
        ["what can I say", "help"],
        [
            "what can I say",
            "what can I say?",
            "help",
            "voice help",
            "show the commands",
            "list the commands",
            "voice commands",
            "which commands are there",
            "what are the commands",
            "help me",
        ],
    ),
)

VOICE_COMMANDS: dict[str, VoiceCommandSpec] = {s.name: s for s in _SPECS}
"""Every spoken command by its CommandRegistry name, in help-panel order."""

COMMAND_NAMES: tuple[str, ...] = tuple(VOICE_COMMANDS)
"""The command head's classes 0..N-1 (class N is :data:`NOT_A_COMMAND`)."""


def core_phrasings(name: str) -> list[str]:
    """The command's wordings without politeness or fillers: its phrases, and its nouns alone
    and inside :data:`NOUN_FRAMES`; de-duplicated, stable order."""
    spec = VOICE_COMMANDS[name]
    out = list(spec.phrases)
    out += [frame.format(n=n) for n in spec.nouns for frame in NOUN_FRAMES]
    return list(dict.fromkeys(" ".join(t.split()) for t in out))


def held_out(text: str) -> bool:
    """The fixed ~20 % of texts (by CRC-32) no command model trains on."""
    return zlib.crc32(text.lower().encode("utf-8")) % 100 < 20


def held_out_cores(name: str) -> list[str]:
    """Noun phrases inside verb frames never heard together in training ("set bone window"
    while "set lung window" and "bone window" are): :func:`held_out` of the composed text, or
    the one with the smallest CRC-32 when it picks none. Phrases stand alone and stay."""
    spec = VOICE_COMMANDS[name]
    fixed = set(spec.examples) | set(spec.phrases)
    composed = [
        " ".join(frame.format(n=n).split())
        for n in spec.nouns
        for frame in NOUN_FRAMES
        if frame != "{n}"
    ]
    composed = [c for c in dict.fromkeys(composed) if c not in fixed]
    held = [c for c in composed if held_out(c)]
    if not held and composed:
        held = [min(composed, key=lambda c: zlib.crc32(c.lower().encode("utf-8")))]
    return held


def wrap(core: str, polite: tuple[str, str], filler: str) -> str:
    """One utterance: a filler, a politeness prefix/suffix around the core phrasing."""
    prefix, suffix = polite
    return f"{filler}{prefix}{core}{suffix}".strip()


VERBLESS_POLITE: tuple[tuple[str, str], ...] = (("", ""), ("", " please"), ("please ", ""))
"""Politeness around a bare noun phrase ("lung window please", not "could you lung window")."""


def wrappings(name: str, core: str) -> list[str]:
    """Every utterance of ``core``: bare first, then each politeness × filler combination."""
    polite = VERBLESS_POLITE if core in VOICE_COMMANDS[name].nouns else POLITE
    texts = [wrap(core, p, f) for p in polite for f in FILLERS]
    return list(dict.fromkeys([core, *texts]))


def split_utterances(name: str) -> tuple[list[str], list[str]]:
    """(training, held-out) utterances of a command. Held out: every wrapping of
    :func:`held_out_cores`, and the wrappings of other cores that :func:`held_out` picks (a
    core heard in training, never with that politeness and filler); a bare core trains."""
    held_cores = set(held_out_cores(name))
    train: list[str] = []
    held: list[str] = []
    for core in core_phrasings(name):
        for i, text in enumerate(wrappings(name, core)):
            if core in held_cores or (i > 0 and held_out(text)):
                held.append(text)
            else:
                train.append(text)
    train = list(dict.fromkeys(train))
    return train, [t for t in dict.fromkeys(held) if t not in set(train)]


def normalise(text: str) -> str:
    """Lower case, punctuation dropped, fillers and politeness stripped: for typed commands."""
    words = "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()
    drop = {"uh", "um", "okay", "ok", "alright", "so", "and", "please", "now"}
    lead = {("could", "you"), ("can", "you"), ("can", "we")}
    while words and words[0] in drop:
        words = words[1:]
    while len(words) >= 2 and tuple(words[:2]) in lead:
        words = words[2:]
    if words and words[0] == "let":  # "let's" → "let s"
        words = words[2:] if words[1:2] == ["s"] else words[1:]
    while words and words[-1] in drop:
        words = words[:-1]
    return " ".join(words)


def _typed_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name in COMMAND_NAMES:
        for core in core_phrasings(name):
            index.setdefault(normalise(core), name)
    return index


_TYPED: dict[str, str] = _typed_index()


def typed_command(text: str) -> str | None:
    """The command a typed text names exactly (any core phrasing, with or without politeness
    and fillers), else None: typed text needs no speech model."""
    return _TYPED.get(normalise(text))
