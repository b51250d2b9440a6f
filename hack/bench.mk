# Load-generator benchmark (owned by the performance work). Not part of `make test`.
# Docs: docs/performance.md. Output: bench-output/results.json.
.PHONY: bench bench-cluster

bench-cluster: venv cluster-tools image ## fifty tests at once on the test cluster: one verdict each, operator peak RSS, idle API requests
	ELT_MANY_TESTS=50 ELT_IDLE_SECONDS=60 $(PY) -m pytest tests/e2e/test_many_tests.py -s -p no:cacheprovider

bench: venv ## load-generator cost per core, memory per 1,000 users, latency fidelity (2 cores)
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/streaming.py $(BENCH_STREAM_ARGS)
