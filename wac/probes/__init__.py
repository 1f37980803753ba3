"""Probes: one module per protocol behind one contract, picked by the URL's scheme.

- `contract`: the `Prober` the check loop drives, the `ProbeContext` it is made with,
  the `ProbeFn` form for protocols written as one coroutine;
- `registry`: URL scheme → prober factory; `reactor`: the loop's one wait (epoll +
  eventfd); `offloop`: probers that run their checks on an asyncio loop in a helper
  thread; `once`: check a list of targets once (`wac check`);
- HTTP(S): `http` (one check on a libcurl easy handle), `curl` (the multi engine and
  the HTTP prober), `matcher` (body patterns off the loop's thread), `errors` (libcurl's
  errors in plain words);
- shared: `policy` (CAs, private addresses), `failure` (a check that could not be made).
"""
