"""Outputs: a station's encoded stream pushed to servers outside this one (Icecast)."""
