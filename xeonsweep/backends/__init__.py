"""One module per backend; `base` holds the contract they share."""
