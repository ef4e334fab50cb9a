"""Lambda@Edge functions (infra/components/gateway_edge.py deploys them)."""
