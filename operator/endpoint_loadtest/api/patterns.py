"""Patterns of Kubernetes object names that several API models check.

ConfigMap, Secret and ServiceAccount names are all DNS-1123 subdomains; one
definition keeps the payload, pod and metadata models agreeing on what a name is.
"""

# A DNS-1123 label (ConfigMap, Secret and ServiceAccount names are subdomains, which allow dots).
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
