"""TLS and request signatures for the Python test backends (backend_server.py serves them),
standard library only.

add_arguments() adds --tls CERT KEY (serve https), --client-ca FILE (and require a client
certificate it signed) and --secret S (check the gateway's proxy request signature);
serve_tls() wraps the server's socket; signature_problem() is the check docs/gateway.md
describes for a backend.
"""
import hashlib
import hmac
import ssl
import time


def add_arguments(parser):
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--client-ca")
    parser.add_argument("--secret")


def serve_tls(server, args):
    if not args.tls:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls[0], args.tls[1])
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.client_ca)
    server.socket = context.wrap_socket(server.socket, server_side=True)


def signature_problem(secret, headers, body, window=300):
    """None when X-Switchboard-Signature is HMAC-SHA256(secret, timestamp + "." + body) of a
    timestamp within `window` seconds of now; else what is wrong."""
    timestamp = headers.get("X-Switchboard-Timestamp", "")
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("X-Switchboard-Signature", "")):
        return "bad signature"
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > window:
        return "stale timestamp"
    return None
