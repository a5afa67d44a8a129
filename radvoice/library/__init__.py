"""radvoice.library."""
