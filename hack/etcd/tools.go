//go:build tools

// Package tools pins the etcd server main package that hack/build-cluster-tools.sh builds.
package tools

import _ "go.etcd.io/etcd/server/v3"
