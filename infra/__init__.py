"""What the Pulumi program deploys, and the tooling around it.

- Components, one ComponentResource per module: network, llm (one SageMaker endpoint per
  ModelSpec), inference_image, chat_backend, vector_store, web_edge, web_service, gateway_edge,
  monitoring, arena_refit.
- The pieces they are built from (functions, dynamic resources and policy documents, no
  ComponentResource of their own): bedrock, cdn, codebuild, cognito, iam, inference_component,
  lambda_function, migration, regional, storage.
- The composition: config (the stack's settings) and program (the whole stack, which
  `__main__.py` and the offline plan both call).
- Offline checks of the graph: offline and offline_stack (the program under mocks), plan,
  policies/ (the security rules), pricing, terraform and the preflight modules.
- Build tooling and runtime code: packaging (Lambda artefacts), model_code/ (SageMaker scripts)
  and edge_functions/ (Lambda@Edge).
"""
