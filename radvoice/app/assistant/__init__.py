"""The assistant in the app: findings, spoken questions, priors, the library dialog, comparison."""

from radvoice.app.assistant.bridge import AssistantBridge, attach_assistant

__all__ = ["AssistantBridge", "attach_assistant"]
