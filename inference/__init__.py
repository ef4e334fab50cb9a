"""A llama.cpp model server that speaks the SageMaker Runtime API and the SageMaker container contract."""
