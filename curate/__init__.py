"""curate: audit an image folder before training a LoRA on it."""

__version__ = "0.1.0"
