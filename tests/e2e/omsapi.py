"""A direct client of the services' api endpoints, for checks that read a
lot (every order, a whole outbox) faster than one CLI process per call.

Requests and replies follow proto/PROTOCOL.md: [empty frame][msgpack map].
"""

import time

import msgpack
import zmq


class ApiError(Exception):
    pass


class Api:
    def __init__(self, endpoints, timeout_ms=5000):
        """endpoints: {service: "tcp://host:port"}"""
        self.context = zmq.Context()
        self.endpoints = endpoints
        self.timeout_ms = timeout_ms
        self.sockets = {}

    def _socket(self, service):
        sock = self.sockets.get(service)
        if sock is None:
            sock = self.context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.endpoints[service])
            self.sockets[service] = sock
        return sock

    def call(self, service, cmd, **fields):
        """Sends one request and returns the reply map; raises ApiError on
        {"ok": false} or when no answer comes in time. A "rate limit"
        refusal is asked again after a pause, for up to timeout_ms."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            reply = self._call_once(service, cmd, fields)
            if reply.get("ok"):
                return reply
            error = str(reply.get("error"))
            if not error.startswith("rate limit:") or time.monotonic() > deadline:
                raise ApiError(f"{service} {cmd}: {error}")
            time.sleep(0.05)

    def _call_once(self, service, cmd, fields):
        sock = self._socket(service)
        sock.send_multipart([b"", msgpack.packb(dict(cmd=cmd, **fields))])
        if not sock.poll(self.timeout_ms):
            #  A socket with a request in flight cannot be reused safely.
            sock.close()
            del self.sockets[service]
            raise ApiError(f"{service} did not answer {cmd} within {self.timeout_ms} ms")
        frames = sock.recv_multipart()
        return msgpack.unpackb(frames[-1], raw=False)

    def outbox(self, service, topic):
        """Every retained event of `topic` in `service`'s outbox, decoded."""
        events, start = [], 1
        while True:
            reply = self.call(service, "replay", topic=topic, **{"from": start, "max": 4096})
            batch = [msgpack.unpackb(body, raw=False) for body in reply["events"]]
            events.extend(batch)
            if not batch or start + len(batch) > reply["head"]:
                return events
            start += len(batch)

    def close(self):
        for sock in self.sockets.values():
            sock.close()
        self.context.term()
