"""endpoint-loadtest-operator: load tests for ML inference endpoints, judged against targets."""

__version__ = "0.1.0"
