#!/usr/bin/env python3
"""One publisher and one subscriber that reads 10x slower than the publish rate (bench/run-slow-reader.sh).

Python standard library only. The subscriber is a raw WebSocket client whose receive buffer is
small (--rcvbuf), so that the gateway's writes stall soon and publications wait in its outbox;
it reads one message, then sleeps 1/(rate/slowdown). The publisher posts sequence numbers to the
HTTP API at --rate per second (--batch per request, default 1: each publication reaches the
gateway on its own) for --seconds, then stops. Printed, one `key=value` line:
- lag_p50 / lag_p99: for every message read while publishing, the sequence numbers published
  since it (how stale the value the reader sees is);
- catch_up_frames: messages the reader read after the last publication until it read that last
  value (the newest value within one write of catching up shows as the frames the kernel still
  held plus at most one);
- final_seen: 1 when the last publication arrived;
- peak_rss_kib: the gateway's peak VmRSS (--pid) while publishing;
- conflated / drops: the gateway's /metrics counters after the run.
"""
import argparse
import base64
import http.client
import json
import os
import socket
import struct
import sys
import threading
import time


def ws_open(port, rcvbuf):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit("upgrade refused: " + head.decode(errors="replace"))
    return sock


def ws_send(sock, text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


class FrameReader:
    """Server frames from a socket with a timeout: bytes stay buffered across timeouts."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def _frame(self):
        if len(self.buffer) < 2:
            return None
        b0, b1 = self.buffer[0], self.buffer[1]
        length, header = b1 & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            length, header = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            length, header = struct.unpack("!Q", self.buffer[2:10])[0], 10
        if len(self.buffer) < header + length:
            return None
        payload = self.buffer[header:header + length]
        self.buffer = self.buffer[header + length:]
        return b0 & 0x0F, payload

    def next_text(self):
        """The next text message as JSON; raises socket.timeout when none is complete in time."""
        while True:
            frame = self._frame()
            if frame is not None:
                if frame[0] == 0x1:
                    return json.loads(frame[1])
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the gateway closed the connection")
            self.buffer += chunk


def metrics(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    values = {}
    for line in conn.getresponse().read().decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the gateway's pid, for its RSS")
    parser.add_argument("--rate", type=int, default=1000, help="publications per second")
    parser.add_argument("--batch", type=int, default=1, help="publications per HTTP request")
    parser.add_argument("--slowdown", type=int, default=10, help="the reader reads rate/slowdown per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--payload", type=int, default=1024, help="bytes of padding per publication")
    parser.add_argument("--rcvbuf", type=int, default=16384)
    parser.add_argument("--channel", default="prices/eur")
    args = parser.parse_args()

    sock = ws_open(args.port, args.rcvbuf)
    reader = FrameReader(sock)
    ws_send(sock, '{"op":"connect","version":1}')
    ws_send(sock, json.dumps({"op": "subscribe", "channel": args.channel, "ackId": 1}))
    while reader.next_text().get("op") != "subscribed":
        pass

    published = [0]  # last sequence number published
    done = threading.Event()
    peak = [0]
    pad = "x" * args.payload

    def publish():
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        headers = {"Content-Type": "application/json", "X-API-Key": args.api_key}
        start = time.monotonic()
        seq = 0
        while time.monotonic() - start < args.seconds:
            body = {"publications": [{"channel": args.channel, "data": {"seq": seq + i + 1, "pad": pad}}
                                     for i in range(args.batch)]}
            seq += args.batch
            published[0] = seq  # before the request: its frames may reach the reader before the answer
            conn.request("POST", "/api/publish", json.dumps(body), headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                print(f"publish answered {response.status}", file=sys.stderr)
                os._exit(1)
            peak[0] = max(peak[0], rss_kib(args.pid))
            next_at = start + seq / args.rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        done.set()

    publisher = threading.Thread(target=publish)
    publisher.start()
    interval = args.slowdown / args.rate
    lags = []
    catch_up = 0
    final = None
    max_seen = 0
    deadline = None
    last_read = time.monotonic()
    sock.settimeout(0.5)
    while True:
        if done.is_set() and final is None:
            final = published[0]
            deadline = time.monotonic() + 60
        if final is not None and (max_seen == final or time.monotonic() > deadline):
            break
        try:
            message = reader.next_text()
        except socket.timeout:
            # A value that was dropped never comes: stop after 5 s of silence once publishing ended.
            if final is not None and time.monotonic() - last_read > 5:
                break
            continue
        last_read = time.monotonic()
        if message.get("op") != "message":
            continue
        seq = message["data"]["seq"]
        max_seen = max(max_seen, seq)
        if final is None:
            lags.append(published[0] - seq)
        else:
            catch_up += 1
        time.sleep(interval)
    publisher.join()
    lags.sort()
    m = metrics(args.port)
    print(f"lag_p50={lags[len(lags) // 2] if lags else 0} lag_p99={lags[int(len(lags) * 0.99)] if lags else 0} "
          f"read_while_publishing={len(lags)} published={published[0]} catch_up_frames={catch_up} "
          f"final_seen={int(max_seen == final)} peak_rss_kib={peak[0]} "
          f"conflated={int(m.get('switchboard_conflated_total', 0))} drops={int(m.get('switchboard_drops_total', 0))}")


if __name__ == "__main__":
    main()
