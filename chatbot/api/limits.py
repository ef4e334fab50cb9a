"""Limits of the models' parameters that the web app checks too (so it can say them before a
request is sent)."""

#: llama.cpp's sampler takes a 32-bit seed: a larger one would be cut silently, and two seeds that
#: differ only above bit 32 would give the same answer.
SEED_MAX = 2**32 - 1
