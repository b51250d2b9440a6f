# Load-generator benchmark (owned by the performance work). Not part of `make test`.
# Docs: docs/performance.md. Output: bench-output/results.json.
.PHONY: bench

bench: venv ## load-generator cost per core, memory per 1,000 users, latency fidelity (2 cores)
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/streaming.py $(BENCH_STREAM_ARGS)
