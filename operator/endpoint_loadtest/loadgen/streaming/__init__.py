"""Streamed responses (LLM token streaming): decoding, per-request timing, window figures."""
