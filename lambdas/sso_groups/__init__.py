"""The user pool's pre-token-generation trigger: a federated user's groups become roles in the ID token."""
