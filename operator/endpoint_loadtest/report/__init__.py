"""Our report: one self-contained HTML page rendered from a test's status (render.py)."""
