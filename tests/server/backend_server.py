"""The HTTP server every Python test backend runs (rpc_backend.py, connect_backend.py,
subscribe_backend.py, webhook_backend.py), standard library only.

A backend builds its arguments on argument_parser() (--port, --delay and backend_security's
--tls, --client-ca, --secret), then calls serve(args, handle). serve() prints "port N" once
listening, then for every POST, before the backend sees it, one JSON line on stdout:
{"n": <1-based count>, "path": ..., "headers": {lower-case name: value}, "body": <base64 of the raw body>}
(WebhookBackend.h reads both). With --secret, a request whose signature does not verify is
answered 401 {"message": "bad signature" | "stale timestamp"} without reaching `handle`.
Every answer closes the connection.

handle(request) runs on the request's own thread; it answers with request.answer() or
request.answer_garbage() (or neither: the connection is then closed without an answer).
"""
import argparse
import base64
import http.server
import json
import sys
import threading

import backend_security


def argument_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=1.0)  # what a "slow" answer waits, seconds
    backend_security.add_arguments(parser)
    return parser


class Request:
    """One POST: n (1-based count), path, headers, body (bytes)."""

    def __init__(self, handler, n, body):
        self._handler = handler
        self.n = n
        self.path = handler.path
        self.headers = handler.headers
        self.body = body

    def answer(self, status, body=b"", content_type=None):
        """A dict or list is sent as JSON; bytes as they are, typed `content_type` when given."""
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json"
        handler = self._handler
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    def answer_garbage(self):
        """Bytes that are not HTTP (the gateway must count an invalid answer)."""
        self._handler.wfile.write(b"this is not HTTP at all\r\n\r\n")


def serve(args, handle, verify_signature=True):
    """Serves forever on 127.0.0.1:args.port. verify_signature: check --secret (the proxies'
    signature) before `handle`; the webhook receiver, signed otherwise, turns it off."""
    lock = threading.Lock()
    count = 0

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            nonlocal count
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                count += 1
                request = Request(self, count, body)
                record = {"n": request.n, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": base64.b64encode(body).decode("ascii")}
                sys.stdout.write(json.dumps(record) + "\n")
                sys.stdout.flush()
            self.close_connection = True
            if verify_signature and args.secret is not None:
                problem = backend_security.signature_problem(args.secret, self.headers, body)
                if problem:
                    request.answer(401, {"message": problem})
                    return
            handle(request)

        def log_message(self, *unused):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    backend_security.serve_tls(server, args)
    print("port", server.server_address[1], flush=True)
    server.serve_forever()
