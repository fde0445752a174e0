"""Helpers for the tests and benchmarks (not part of the installed library): reference speech bounds and
joined test streams, a plain-numpy Whisper encoder, a server on a background thread."""
