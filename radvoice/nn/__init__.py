"""radvoice.nn."""
