"""The practical ceiling of a Python monitor: a bare pycurl multi loop, no wac code.

    python -m bench.monitor.bare_curl URL --seconds S [--in-flight N] [--cainfo FILE]

Keeps N transfers in flight on one multi handle, each on a fresh connection (and for
https:// a full TLS handshake: no session cache), reads each transfer's timings as a
monitor would, and prints one JSON line: requests, seconds, and the process's own CPU
seconds. The bench compares the monitor against it in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import pycurl


def configure(easy: pycurl.Curl, url: str, cainfo: str | None) -> None:
    easy.setopt(pycurl.URL, url)
    easy.setopt(pycurl.NOSIGNAL, 1)
    easy.setopt(pycurl.FRESH_CONNECT, 1)
    easy.setopt(pycurl.FORBID_REUSE, 1)
    easy.setopt(pycurl.DNS_CACHE_TIMEOUT, 0)
    easy.setopt(pycurl.SSL_SESSIONID_CACHE, 0)
    easy.setopt(pycurl.TIMEOUT_MS, 5000)
    easy.setopt(pycurl.WRITEFUNCTION, lambda chunk: None)
    if cainfo is not None:
        easy.setopt(pycurl.CAINFO, cainfo)


def run(url: str, seconds: float, in_flight: int, cainfo: str | None) -> dict[str, float]:
    multi = pycurl.CurlMulti()
    for _ in range(in_flight):
        easy = pycurl.Curl()
        configure(easy, url, cainfo)
        multi.add_handle(easy)
    done = failed = 0
    timings = 0.0
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        multi.select(0.1)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, ok, errors = multi.info_read()
            finished = list(ok) + [easy for easy, _code, _message in errors]
            failed += len(errors)
            for easy in finished:
                # The timings a check reads, so that the loop does a check's work.
                timings += easy.getinfo(pycurl.NAMELOOKUP_TIME_T)
                timings += easy.getinfo(pycurl.CONNECT_TIME_T)
                timings += easy.getinfo(pycurl.APPCONNECT_TIME_T)
                timings += easy.getinfo(pycurl.STARTTRANSFER_TIME_T)
                timings += easy.getinfo(pycurl.TOTAL_TIME_T)
                easy.getinfo(pycurl.RESPONSE_CODE)
                multi.remove_handle(easy)
                multi.add_handle(easy)
                done += 1
            if not queued:
                break
    elapsed = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"requests": done, "failed": failed, "seconds": elapsed, "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--cainfo", default=None)
    options = parser.parse_args()
    print(json.dumps(run(options.url, options.seconds, options.in_flight, options.cainfo)))


if __name__ == "__main__":
    main()
