"""Whisper: CTranslate2 converter, torch audio encoder, ASR cascade baseline."""
