#!/usr/bin/env python3
"""Application backend for tst_gatewayrpcproxy (standard library only).

Served by backend_server.py: the "port N" line, one JSON line per request, --port, --delay,
--tls CERT KEY / --client-ca FILE and --secret S (backend_security.py; a request whose
signature does not verify is answered 401).

What it answers depends on the request's topic:
  echo       200 {"topic", "payload", "user", "session", "client", "info", "reply"} from the request
  slow       like echo, after --delay seconds
  notjson    200 with a text body that is not JSON
  garbage    bytes that are not HTTP, then close
  reject     422 {"message": "sku unknown", "trace": "validate.py:12"}
  crash      500 {"message": "database down"}
  plain503   503 with a text body
anything else: 404 {"message": "no such topic"}.
"""
import json
import time

import backend_server

args = backend_server.argument_parser().parse_args()


def handle(request):
    try:
        call = json.loads(request.body)
        topic = call["topic"]
    except (ValueError, KeyError, TypeError):
        request.answer(400, {"message": "request is not {topic, ...}"})
        return
    if topic == "garbage":
        request.answer_garbage()
        return
    if topic == "slow":
        time.sleep(args.delay)
    if topic in ("echo", "slow"):
        request.answer(200, {k: call.get(k) for k in ("topic", "payload", "user", "session", "client", "info", "reply")})
    elif topic == "notjson":
        request.answer(200, b"hello, not json", "text/plain")
    elif topic == "reject":
        request.answer(422, {"message": "sku unknown", "trace": "validate.py:12"})
    elif topic == "crash":
        request.answer(500, {"message": "database down"})
    elif topic == "plain503":
        request.answer(503, b"maintenance", "text/plain")
    else:
        request.answer(404, {"message": "no such topic"})


backend_server.serve(args, handle)
