"""radvoice.app."""
