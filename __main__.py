"""The Pulumi program: read the stack's config, build the stack (infra/program.py), export its outputs."""

import pulumi

from infra.config import engine_config
from infra.program import build_stack, load_config

config, region = load_config(engine_config(), pulumi.get_stack())
for key, value in build_stack(config, region=region, stack=pulumi.get_stack()).items():
    pulumi.export(key, value)
