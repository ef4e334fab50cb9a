#!/bin/sh
# Lambda handler for the chat API. The Lambda Web Adapter layer (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap,
# AWS_LWA_INVOKE_MODE=response_stream) runs this script itself (exec "$LAMBDA_TASK_ROOT/$_HANDLER"),
# forwards invocations to the HTTP server it starts on $PORT, and streams its responses back through
# the function URL. The Python runtime's bootstrap never runs, so nothing has put the dependency
# layer (/opt/python) or the runtime's boto3 ($LAMBDA_RUNTIME_DIR) on the path: this does, as the
# adapter's own FastAPI example does. tests/lambdas/test_boot.py starts it the same way.
cd "${LAMBDA_TASK_ROOT:-.}" || exit 1
PYTHONPATH="${LAMBDA_TASK_ROOT:-.}:/opt/python:${LAMBDA_RUNTIME_DIR:-/var/runtime}${PYTHONPATH:+:$PYTHONPATH}" \
  exec python -m uvicorn lambdas.chat_api.app:app --host 127.0.0.1 --port "${PORT:-8000}" --no-access-log
