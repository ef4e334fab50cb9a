"""What the Pulumi program deploys, and the tooling around it, kept apart by what each part is.

- Components, the modules that hold a ComponentResource: components/network,
  components/llm (one SageMaker endpoint per ModelSpec), components/chat_backend,
  components/vector_store, components/web_edge, components/web_service, components/gateway_edge,
  components/monitoring, components/arena_refit, build/inference_image.
- components/ also holds the pieces they are built from (functions, dynamic resources and policy
  documents, no ComponentResource of their own): cdn, cognito, iam,
  inference_component, lambda_function, migration, regional, storage.
- models/: one module per deployment kind (tgi, lmi, custom, embeddings, package, llamacpp,
  bedrock), chosen by the deployment's class; components/llm builds the endpoint around it.
- The composition: config (the stack's settings, one pydantic section per component) and program
  (the whole stack, which `__main__.py` and the offline plan both call).
- checks/: what is checked before and after `pulumi up`: offline and offline_stack (the program
  under mocks), plan, policies/ (the security rules), pricing, terraform, the preflight modules
  (the account, against AWS) and smoke (a deployed stack).
- build/: the build tooling: packaging (Lambda artefacts), codebuild (the model-packaging run),
  inference_image (the llama.cpp image) and certs/ (baked into the Lambda layer).

- The commands, thin `python -m infra.<name>` entry points over checks/ and build/: plan,
  preflight, smoke, terraform, packaging.

The code these ship to AWS lives with the runtime code, in runtime/ (edge/, sagemaker/).
"""
