"""Code that runs in AWS outside this project's services, shipped as files by the Pulumi program
(infra/ reads or packs them, never imports them):

- edge/: the Lambda@Edge function in front of the gateway (CloudFront viewer-request; no
  environment variables, no layers, inlined in the function's zip).
- sagemaker/: inference scripts for SageMaker's Hugging Face inference toolkit, each a code_dir
  that CodeBuild packs into model.tar.gz with its own requirements.lock (sentence_embeddings: the
  embeddings kind's script).

The project's own services live in lambdas/ (the Lambda functions, packed with chatbot/ and a
layer), inference/ (the llama.cpp model server image) and streamlit_app/ (the web app image).
"""
