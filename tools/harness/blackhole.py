"""A TCP proxy on a free loopback port that can stop answering: while ``stalled`` it
takes whatever the clients send (their TCP sends are acknowledged) and answers nothing,
as a database behind a dead switch or a hung server does. ``resume`` closes the stalled
connections (the clients reconnect) and forwards again."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

from harness.process import free_port


class Blackhole:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stalled = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)

    def start(self) -> Blackhole:
        self._thread.start()
        return self

    def stall(self) -> None:
        """From now on nothing is answered, on open connections and new ones."""
        self._stalled.set()

    def resume(self) -> None:
        """Close what was stalled; forward again."""
        self._drop_all()
        self._stalled.clear()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream: socket.socket | None = None
            if not self._stalled.is_set():
                try:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    client.close()
                    continue
            with self._lock:
                self._sockets += [client] + ([upstream] if upstream else [])
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(upstream, client),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if sink is not None and not self._stalled.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                if s is not None:
                    s.close()

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        self._drop_all()
        self._thread.join(5)

    def __enter__(self) -> Blackhole:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
