"""radvoice.audio."""
