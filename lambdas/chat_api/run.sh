#!/bin/sh
# Lambda handler for the chat API. The Lambda Web Adapter layer (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap,
# AWS_LWA_INVOKE_MODE=response_stream) forwards invocations to this HTTP server on $PORT and streams
# its responses back through the function URL.
exec python -m uvicorn lambdas.chat_api.app:app --host 127.0.0.1 --port "${PORT:-8000}" --no-access-log
