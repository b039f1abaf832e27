#!/usr/bin/env python3
"""Webhook receiver for tst_gatewaywebhooks (standard library only).

Served by backend_server.py: the "port N" line, one JSON line per request, --port, --delay,
--tls CERT KEY / --client-ca FILE (backend_security.py).

Modes: ok (200), slow (200 after --delay seconds), error (500), reject (400),
garbage (bytes that are not HTTP, then close). --fail-first N answers 500 to the first N requests.
"""
import time

import backend_server

parser = backend_server.argument_parser()
parser.add_argument("--mode", choices=["ok", "slow", "error", "reject", "garbage"], default="ok")
parser.add_argument("--fail-first", type=int, default=0)
args = parser.parse_args()


def handle(request):
    if args.mode == "garbage":
        request.answer_garbage()
        return
    if args.mode == "slow":
        time.sleep(args.delay)
    status = {"error": 500, "reject": 400}.get(args.mode, 200)
    if request.n <= args.fail_first:
        status = 500
    request.answer(status)


# Webhooks are signed with --webhook-secret, which the test checks itself: no proxy signature here.
backend_server.serve(args, handle, verify_signature=False)
