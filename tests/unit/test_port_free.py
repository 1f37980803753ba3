"""A port that only holds connections in TIME_WAIT is free for a server to listen on."""

from __future__ import annotations

import socket

from wac.localservices.proc import port_free


def _time_wait_port() -> int:
    """A port whose only socket is a closed connection in TIME_WAIT (the server closed first),
    of a listener that set SO_REUSEADDR, as Kafka's and PostgreSQL's do."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the side that closes first keeps the TIME_WAIT
        client.recv(1)  # the FIN
        client.close()
    return port


def test_a_port_in_time_wait_is_free_and_a_listening_one_is_not() -> None:
    port = _time_wait_port()
    with socket.socket() as plain:  # without SO_REUSEADDR the kernel refuses it...
        try:
            plain.bind(("127.0.0.1", port))
            refused = False
        except OSError:
            refused = True
    assert refused, "expected the port to be in TIME_WAIT"
    assert port_free("127.0.0.1", port)  # ...but a server (SO_REUSEADDR) may listen there
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not port_free("127.0.0.1", listener.getsockname()[1])
