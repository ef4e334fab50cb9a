"""The Pulumi program: read the stack's config, build the stack (infra/program.py), export its outputs."""

import pulumi

from infra.config import engine_config
from infra.program import build_stack, load_config

raw, stack = engine_config(), pulumi.get_stack()
config, region = load_config(raw, stack)
for key, value in build_stack(config, region=region, stack=stack, profile=raw.get("aws:profile")).items():
    pulumi.export(key, value)
