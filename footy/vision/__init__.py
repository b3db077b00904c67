"""Pure computer vision: arrays in, dataclasses out. No Flask, no database."""
