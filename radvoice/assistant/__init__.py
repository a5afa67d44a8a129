"""The "ask" pipeline, Qt-free: a CT opened → zero-shot findings; an utterance → a query about a
pathology (findings re-ranked) or a report/finding (similar priors from the case library)."""

from radvoice.assistant.engine import Assistant, AssistantConfig
from radvoice.assistant.intent import Intent, IntentKind, IntentRules, classify_intent
from radvoice.assistant.models import AssistantModels, ModelsMissing, load_default_models

__all__ = [
    "Assistant",
    "AssistantConfig",
    "AssistantModels",
    "Intent",
    "IntentKind",
    "IntentRules",
    "ModelsMissing",
    "classify_intent",
    "load_default_models",
]
