# Chart and image targets (owned by the chart work): `include hack/chart.mk` in the Makefile.
CHART := charts/endpoint-loadtest-operator
IMAGE ?= ghcr.io/elt-dev/endpoint-loadtest-operator
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: "\(.*\)"/\1/p' $(CHART)/Chart.yaml)
PLATFORMS ?= linux/amd64,linux/arm64

.PHONY: chart-crds chart-lint chart-test image image-docker image-push

chart-crds: ## copy crds/ into the chart (after `make crds`)
	cp crds/*.yaml $(CHART)/files/crds/

chart-lint: cluster-tools ## helm lint --strict of the chart, hadolint of the image
	bin/helm lint --strict $(CHART) --kube-version $$(sed -n 's/^KUBE_VERSION=v//p' hack/versions.env)
	$(VENV)/bin/hadolint images/Dockerfile

chart-test: venv cluster-tools image ## the chart's tests (render, lint, install on the test cluster)
	$(PY) -m pytest tests/chart

image: ## build the image and the pause image with podman into .cache/images/ (cached; images/README.md)
	@IMAGE_TAG=$(IMAGE_TAG) bash hack/build-image.sh

image-docker: ## build the image with a Docker daemon instead: IMAGE=... IMAGE_TAG=...
	docker build -f images/Dockerfile --build-arg VERSION=$(IMAGE_TAG) -t $(IMAGE):$(IMAGE_TAG) .

image-push: ## build for amd64+arm64 and push (docker buildx; log in to the registry first)
	docker buildx build -f images/Dockerfile --platform $(PLATFORMS) \
		--build-arg VERSION=$(IMAGE_TAG) -t $(IMAGE):$(IMAGE_TAG) --push .
