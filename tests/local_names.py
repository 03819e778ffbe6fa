"""A tiny DNS server on 127.0.0.1 whose answers a test scripts: a name may answer one address, then another."""

from __future__ import annotations

import socket
import threading

from twisted.names import dns


class NameServer:
    """UDP on 127.0.0.1, port chosen by the system. `answers` maps a name to the IPv4 addresses it gives in turn,
    one a query (A or ANY), the last one for ever after; any other name is NXDOMAIN. `queries` logs each name asked.
    `address` ("127.0.0.1:port") is what REFEED_NAMESERVERS takes."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = {name.rstrip(".").lower(): list(addresses) for name, addresses in answers.items()}
        self.queries: list[str] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> NameServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            self._socket.sendto(self._answer(data), client)

    def _answer(self, data: bytes) -> bytes:
        query = dns.Message()
        query.fromStr(data)
        reply = dns.Message(id=query.id, answer=1, opCode=query.opCode, recDes=query.recDes, recAv=1, auth=1)
        reply.queries = query.queries
        for question in query.queries:
            name = question.name.name.decode("ascii").rstrip(".").lower()
            self.queries.append(name)
            addresses = self.answers.get(name)
            if addresses is None:
                reply.rCode = dns.ENAME
            elif question.type in (dns.A, dns.ALL_RECORDS):
                address = addresses.pop(0) if len(addresses) > 1 else addresses[0]
                reply.answers.append(dns.RRHeader(question.name.name, dns.A, dns.IN, 0, dns.Record_A(address, 0)))
        return reply.toStr()
