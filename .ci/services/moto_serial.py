"""moto's S3 server with one request handled at a time.

moto checks a conditional put (`If-None-Match: *`) and then stores the object, without a lock:
two racing creates of one key can both succeed on its threaded server, where S3 lets exactly one
win. The storage conformance suite races creates on purpose, so the emulator must be atomic
there. This runs moto's own application (as `moto_server` does) behind a lock that serializes
requests; connections are still accepted on threads.

Usage: python moto_serial.py HOST PORT
"""

import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialized(environ, start_response):
    # The whole response is produced under the lock: moto may build it lazily.
    with lock:
        return list(app(environ, start_response))


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)
