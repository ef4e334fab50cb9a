"""Build tooling: the Lambda artefacts, the model-packaging CodeBuild run and the inference image."""
