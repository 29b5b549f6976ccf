"""One module per quantizer; `base` holds the contract they share."""
