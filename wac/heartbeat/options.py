"""What a `push://NAME` (heartbeat) target is (the structures live with the other
probes' options, in wac.targets.options, for the targets loader).

A push target is not probed: the job it watches calls `wac web` at
`/api/push/<token>` (GET or POST) at least once per `interval`; each call is an up
result. The token is the value of the environment variable `token_env` names (16 to
256 characters of letters, digits, `-`, `_`, `.`, `~`), one per target, so that it
stays out of the targets file and out of every result and log. When no call comes
within `interval + grace`, the monitor that has the target publishes a down result
of kind `heartbeat` for each period missed (wac.heartbeat.watcher).
"""

from wac.targets.options import (
    DEFAULT_GRACE_S,
    PushOptions,
    check_token,
    parse_push_url,
)

__all__ = ["DEFAULT_GRACE_S", "PushOptions", "check_token", "parse_push_url"]
