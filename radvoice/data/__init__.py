"""radvoice.data."""
