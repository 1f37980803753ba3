"""``python -m wac.localservices up|down|status|env|fetch-jars`` (thin; the real CLI is wac.cli)."""

from __future__ import annotations

import shlex
import sys
import time

from wac.localservices import LocalServices, ServiceError

USAGE = "usage: python -m wac.localservices {up|down|status|env|fetch-jars}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    command = args[0]
    services = LocalServices()
    started = time.monotonic()
    try:
        if command == "up":
            services.up()
            for st in services.status():
                print(f"{st.name}: running (pid {st.pid}) on {st.endpoint}, log {st.log_path}")
            print(f"ready in {time.monotonic() - started:.1f} s")
        elif command == "down":
            services.down()
            print("stopped")
        elif command == "status":
            statuses = services.status()
            for st in statuses:
                state = f"running (pid {st.pid})" if st.running else "stopped"
                print(f"{st.name}: {state} on {st.endpoint}, log {st.log_path}")
            return 0 if all(st.running for st in statuses) else 3
        elif command == "env":
            for key, value in services.env().items():
                print(f"{key}={shlex.quote(value)}")
        elif command == "fetch-jars":
            services.fetch_jars()
            print(f"Kafka jars in {services.paths.kafka_libs}")
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
