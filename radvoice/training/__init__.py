"""radvoice.training."""
