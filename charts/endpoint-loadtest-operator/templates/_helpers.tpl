{{/* The chart's name. */}}
{{- define "elt.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: names every object of the release. */}}
{{- define "elt.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped objects are named after the release and its namespace (unique). */}}
{{- define "elt.clusterName" -}}
{{- printf "%s-%s" (include "elt.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "elt.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "elt.selectorLabels" -}}
app.kubernetes.io/name: {{ include "elt.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "elt.labels" -}}
helm.sh/chart: {{ include "elt.chart" . }}
{{ include "elt.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: endpoint-loadtest-operator
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "elt.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "elt.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository:tag or repository@digest. */}}
{{- define "elt.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The default image of the Locust pods. */}}
{{- define "elt.locustImage" -}}
{{- if or .Values.locust.image.repository .Values.locust.image.tag }}
{{- printf "%s:%s" (default .Values.image.repository .Values.locust.image.repository) (default (default .Chart.AppVersion .Values.image.tag) .Values.locust.image.tag) }}
{{- else }}
{{- include "elt.image" . }}
{{- end }}
{{- end }}

{{/* The namespaces the operator watches, as a list ([] = all). */}}
{{- define "elt.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- toJson (uniq .Values.watchNamespaces) }}
{{- else if eq .Values.rbac.scope "namespaced" }}
{{- toJson (list .Release.Namespace) }}
{{- else }}
{{- toJson (list) }}
{{- end }}
{{- end }}

{{/* The namespaces that get the Locust ServiceAccount. */}}
{{- define "elt.locustNamespaces" -}}
{{- if eq .Values.rbac.scope "namespaced" }}
{{- include "elt.watchNamespaces" . }}
{{- else }}
{{- toJson (uniq .Values.locust.serviceAccount.namespaces) }}
{{- end }}
{{- end }}

{{/* The Locust pods' default ServiceAccount name, or "" when the operator sets none. */}}
{{- define "elt.locustServiceAccountName" -}}
{{- if .Values.locust.serviceAccount.create }}
{{- if (include "elt.locustNamespaces" . | fromJsonArray) }}
{{- .Values.locust.serviceAccount.name }}
{{- end }}
{{- else }}
{{- .Values.locust.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The permissions the operator needs in a namespace where it runs tests. Read off
operator/endpoint_loadtest/k8s/cluster.py (every API call the operator makes) and kopf:
*/}}
{{- define "elt.namespacedRules" -}}
# The tests: kopf lists and watches them, patches finalizers and progress annotations;
# the operator reads one whose watch lags, and deletes a finished test after
# spec.ttlSecondsAfterFinished.
- apiGroups: ["perf.elt.dev"]
  resources: ["endpointloadtests"]
  verbs: ["get", "list", "watch", "patch", "delete"]
# Their status subresource: phase, verdict, results, conditions.
- apiGroups: ["perf.elt.dev"]
  resources: ["endpointloadtests/status"]
  verbs: ["patch"]
# A test's children: the plan ConfigMap, the master Service, the master and worker
# Deployments. Created once, found by label, deleted when the test ends.
- apiGroups: [""]
  resources: ["configmaps", "services"]
  verbs: ["create", "list", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["create", "list", "delete"]
# A run's NetworkPolicy: who may reach its Locust pods. Created, found by label and
# owner, deleted when the run ends.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["create", "list", "delete"]
# A run's Secret holds its master's token: created, and deleted by its name when the
# run ends. Never get, list or watch: the operator reads no Secret.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create", "delete"]
# The Locust pods' state (ready, IP, ErrImagePull...): read only. The master's
# ReplicaSets: a pod is asked for the result only if its ReplicaSet is the run's.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["list"]
# The events kopf posts on a test (kubectl describe elt).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.peering.enabled }}
# Peering: the replicas announce themselves in the shared KopfPeering object.
- apiGroups: ["kopf.dev"]
  resources: ["kopfpeerings"]
  verbs: ["list", "watch", "patch"]
{{- end }}
{{- end }}

{{/* Cluster-scoped reads the kopf framework makes in both modes. */}}
{{- define "elt.clusterRules" -}}
# kopf watches CRDs to notice the EndpointLoadTest CRD being installed or changed.
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- if and .Values.peering.enabled (eq .Values.rbac.scope "cluster") }}
# Peering across the cluster: the ClusterKopfPeering object.
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  verbs: ["list", "watch", "patch"]
{{- end }}
{{- end }}

{{/* The kopf peering object shared by the replicas. */}}
{{- define "elt.peeringName" -}}
{{- .Values.peering.name | default (include "elt.fullname" .) -}}
{{- end -}}

{{/* The Secret holding the run token key (key `key`). */}}
{{- define "elt.runTokenKeySecret" -}}
{{- .Values.runTokens.existingSecret | default (printf "%s-run-token-key" (include "elt.fullname" .)) -}}
{{- end -}}

{{/* The operator's pods as a NetworkPolicy peer: its namespace and pod labels (JSON). */}}
{{- define "elt.operatorPodSelector" -}}
{{- $labels := include "elt.selectorLabels" . | fromYaml }}
{{- $_ := set $labels "app.kubernetes.io/component" "operator" }}
{{- toJson $labels }}
{{- end -}}
