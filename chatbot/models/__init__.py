"""The model layer: specs, request configs, adapters, endpoints, stream parsing, events."""
