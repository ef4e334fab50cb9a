"""A stand-in SageMaker endpoint for the embedder and reranker tests, reached through boto3's
real `sagemaker-runtime` client (`endpoint_url`). It speaks Text Embeddings Inference's
format with the real MiniLM model behind it:

- `minilm-embed`: embeddings, `{"inputs": [...]}` -> `[[...], ...]`;
- `minilm-rerank`: `{"query", "texts"}` -> `[{"index", "score"}]`, scored by cosine
  similarity (no cross-encoder ships in a package; the contract is what is under test);
- `broken`: a 500 with an error body, as a failing container answers;
- `wrong-shape`: vectors of the wrong size.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from chatbot.retrieval.embedders import LocalEmbedder


@contextmanager
def endpoint_server(embedder: LocalEmbedder) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            match = re.fullmatch(r"/endpoints/([^/]+)/invocations", self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = match.group(1) if match else ""
            if name == "minilm-embed":
                self._send(200, embedder.embed_documents(body["inputs"]).tolist())
            elif name == "minilm-rerank":
                query = embedder.embed_query(body["query"])
                scores = embedder.embed_documents(body["texts"]) @ query
                order = np.argsort(-scores)  # TEI returns best first, not in input order
                self._send(200, [{"index": int(i), "score": float(scores[i])} for i in order])
            elif name == "wrong-shape":
                self._send(200, [[0.5, 0.5]] * len(body["inputs"]))
            else:
                self._send(500, {"error": "model crashed", "error_type": "Internal"})

        def _send(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
