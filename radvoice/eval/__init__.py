"""radvoice.eval."""
