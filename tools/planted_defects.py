"""A wrong function, for showing that the pipeline simulation catches one (tools/simulate
--function). Runs a Lambda custom runtime (the command after --) behind a Runtime API of its own
that plants one defect between it and Lambda's:

  drop-1-in-100   one record in a hundred (those whose sequence number's CRC-32 is a multiple of
                  100) is taken out of the event before the function sees it, every time it is
                  sent (a build that skips one record in a hundred)
  no-failures     every answer becomes {"batchItemFailures": []}, errors included (a function
                  that answers "no failures" whatever happened)

  python3 tools/planted_defects.py drop-1-in-100 -- target/release/ttl-archiver
"""

import json
import os
import subprocess
import sys
import threading
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NO_FAILURES = b'{"batchItemFailures": []}'


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--" or sys.argv[1] not in ("drop-1-in-100", "no-failures"):
        sys.exit(__doc__)
    defect, command = sys.argv[1], sys.argv[3:]
    upstream = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]

    class Planted(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def relay(self, method, path, body=None):
            request = urllib.request.Request(upstream + path, data=body, method=method)
            if body is not None:
                request.add_header("content-type", "application/json")
            with urllib.request.urlopen(request, timeout=None) as answer:
                return answer.status, dict(answer.headers), answer.read()

        def answer(self, status, headers, body):
            self.send_response(status)
            for name, value in headers.items():
                if name.lower().startswith("lambda-runtime-"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            status, headers, body = self.relay("GET", self.path)
            if defect == "drop-1-in-100" and self.path.endswith("/invocation/next"):
                event = json.loads(body)
                event["Records"] = [r for r in event.get("Records", [])
                                    if zlib.crc32(r["dynamodb"]["SequenceNumber"].encode()) % 100]
                body = json.dumps(event).encode()
            self.answer(status, headers, body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            path = self.path
            if defect == "no-failures" and path.startswith("/2018-06-01/runtime/invocation/"):
                path = path.rsplit("/", 1)[0] + "/response"
                body = NO_FAILURES
            self.answer(*self.relay("POST", path, body))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Planted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.server_address[1])
    sys.exit(subprocess.call(command, env=env))


if __name__ == "__main__":
    main()
