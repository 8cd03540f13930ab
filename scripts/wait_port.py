"""Wait until a TCP port accepts connections; exit 1 on timeout. Used by scripts/run.sh."""
import argparse
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("--timeout", type=float, default=10)
args = parser.parse_args()
deadline = time.monotonic() + args.timeout
while True:
    try:
        with socket.create_connection((args.host, args.port), timeout=0.2):
            sys.exit(0)
    except OSError:
        if time.monotonic() > deadline:
            print(f"nothing listening on {args.host}:{args.port} after {args.timeout} s", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.05)
