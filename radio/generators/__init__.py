"""Generators: batches of GenerationRequest in, GeneratedAudio out (see base.py)."""
