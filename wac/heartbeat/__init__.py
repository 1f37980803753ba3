"""Heartbeat (`push://NAME`) targets: jobs that call wac rather than being called.

- `options`: the target's URL, grace and token;
- `periods`: which periods a target missed, and their down results (pure logic);
- `pings`: the store's table of the latest ping of each target;
- `watcher`: the monitor's thread that notices missed periods and publishes them.

`wac web` receives the pings (wac.web.push).
"""
