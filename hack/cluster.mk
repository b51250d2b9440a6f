# Test-cluster targets (owned by the test-cluster work): cluster-tools, cluster-up, cluster-down.
# Versions: hack/versions.env. Docs: docs/test-cluster.md.
CLUSTER_TOOLS := kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy \
	etcd helm containerd containerd-shim-runc-v2 ctr coredns
CLUSTER_DIR := .cluster

.PHONY: cluster-tools cluster-up cluster-down cluster-status

cluster-tools: ## the node's Debian packages, then the control plane, kubelet, kube-proxy, etcd, helm, containerd, coredns into bin/ (cached)
	@bash hack/build-cluster-tools.sh all

cluster-up: venv cluster-tools image ## start the local control plane and node; kubeconfig in .cluster/kubeconfig
	@PYTHONPATH=tests $(PY) -m localcluster up --dir $(CLUSTER_DIR)

cluster-down: ## stop the cluster started by cluster-up and remove its data
	@PYTHONPATH=tests $(PY) -m localcluster down --dir $(CLUSTER_DIR)

cluster-status: ## show whether the cluster started by cluster-up is running
	@PYTHONPATH=tests $(PY) -m localcluster status --dir $(CLUSTER_DIR)

.PHONY: demo-cluster
demo-cluster: venv cluster-tools image ## the chart's operator on the test cluster runs examples/distilbert-demo.yaml to a verdict, then stops everything
	@$(PY) hack/demo_cluster.py
