# Test-cluster targets (owned by the test-cluster work): cluster-tools, cluster-up, cluster-down.
.PHONY: cluster-tools
cluster-tools:
	@echo "cluster-tools: not yet"
