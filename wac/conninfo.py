"""PostgreSQL connection strings, in both forms libpq reads: checked, and shown without secrets.

libpq takes a URL (`postgresql://USER:PASSWORD@HOST:PORT/DBNAME?password=...`) or
key=value pairs (`host=h password='it\\'s secret' dbname=d`). A password may be in the
URL's user information, in a query parameter (`password`, `sslpassword`, ...), or in a
pair, quoted or not. `redact` masks each of these; `scrub` removes them from any other
text (an error message that quotes part of the string); `check` refuses a string libpq
cannot use, with a message that holds no secret.

Redaction reads the text itself, tolerantly, not only libpq's reading of it: in a string
libpq refuses (an unescaped space, `@` or `&` in a password, an unterminated quote)
everything that may be meant as a password is masked, never a part of it.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from wac.errors import ConfigError, first_line

MASK = "***"
URL_PREFIXES = ("postgresql://", "postgres://")
FORMS = (
    "postgresql://USER:PASSWORD@HOST:PORT/DBNAME (percent-encode special characters in "
    "the password, e.g. %40 for @) or key=value pairs (host=HOST port=PORT dbname=DBNAME "
    "user=USER password='PASSWORD')"
)
# Secrets whatever libpq's version says; libpq marks its password fields with "*".
_ALWAYS_SECRET = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
_QUOTED = re.compile(r'"([^"]*)"')
Span = tuple[int, int]


@functools.cache
def keywords() -> frozenset[str]:
    """The option names this libpq knows."""
    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


@functools.cache
def secret_keys() -> frozenset[str]:
    hidden = {o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.dispchar == b"*"}
    return _ALWAYS_SECRET | hidden


def is_url(raw: str) -> bool:
    return raw.startswith(URL_PREFIXES)


# --- redaction ------------------------------------------------------------------------
def redact(raw: str) -> str:
    """The connection string with every password masked, safe for logs and errors."""
    out, last = [], 0
    for start, end in _secret_spans(raw):
        out += [raw[last:start], MASK]
        last = end
    out.append(raw[last:])
    return "".join(out)


def secrets_of(raw: str) -> set[str]:
    """Every text that may be a secret of `raw`: as written, and as libpq reads it."""
    found: set[str] = set()
    for start, end in _secret_spans(raw):
        text = raw[start:end]
        found |= {text, unquote(text) if is_url(raw) else _kv_unescape(text)}
    found |= {v for k, v in _parsed(raw).items() if k in secret_keys()}
    found.discard("")
    return found


def scrub(text: str, raw: str) -> str:
    """`text` (an error message, a log line) with every secret of `raw` masked."""
    for secret in sorted(secrets_of(raw), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _parsed(raw: str) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in conninfo_to_dict(raw).items()}
    except psycopg.Error:
        return {}


def _secret_spans(raw: str) -> list[Span]:
    spans = _url_secret_spans(raw) if is_url(raw) else _kv_secret_spans(raw)
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _url_secret_spans(raw: str) -> list[Span]:
    """The password in the user information, and secret values in the query.

    In a URL libpq accepts, the user information ends at the first `@` before any `/`,
    as libpq reads it. In any other, it ends at the last `@` of all: a password with an
    unescaped `@`, `/` or `?` is masked whole.
    """
    begin = len(next(p for p in URL_PREFIXES if raw.startswith(p)))
    slash = raw.find("/", begin)
    at = raw.find("@", begin, slash if slash != -1 else len(raw))
    if not _well_formed_url(raw):
        at = raw.rfind("@", begin)
    spans: list[Span] = []
    colon = raw.find(":", begin, at) if at != -1 else -1
    if colon != -1:
        spans.append((colon + 1, at))
    spans += _query_secret_spans(raw, raw.find("?", at + 1 if colon != -1 else begin))
    if not _well_formed_url(raw):  # the last `@` may be in the query: read it from its `?` too
        spans += _query_secret_spans(raw, raw.find("?", begin))
    return spans


def _query_secret_spans(raw: str, query: int) -> list[Span]:
    """The secret values of the query that starts at `query` (its `?`; -1: none)."""
    if query == -1:
        return []
    tokens: list[tuple[str | None, int, int]] = []
    position = query + 1
    for pair in raw[query + 1 :].split("&"):
        key, sep, _ = pair.partition("=")
        value_start = position + len(key) + 1 if sep else position
        tokens.append((unquote(key).strip() if sep else None, value_start, position + len(pair)))
        position += len(pair) + 1
    return _values_of_secrets(tokens)


def _well_formed_url(raw: str) -> bool:
    parsed = _parsed(raw)
    return bool(parsed) and "@" not in parsed.get("host", "") + parsed.get("dbname", "")


def _kv_secret_spans(raw: str) -> list[Span]:
    return _values_of_secrets(_kv_tokens(raw))


def _values_of_secrets(tokens: list[tuple[str | None, int, int]]) -> list[Span]:
    """Spans to mask among (key, value start, value end) tokens (key None: a bare word).

    A secret's value runs on over the tokens after it up to the next one named by a
    libpq option: with a space or `&` in an unquoted password, libpq sees more words,
    and those are the rest of the password. Bare words are masked wherever they are.
    """
    spans: list[Span] = []
    open_span: Span | None = None
    for key, start, end in tokens:
        if key is not None and key.lower() in keywords() and key.lower() not in secret_keys():
            if open_span is not None:
                spans.append(open_span)
            open_span = None
            continue
        if open_span is not None:
            open_span = (open_span[0], end)
        elif key is None or key.lower() in secret_keys():
            open_span = (start, end)
    if open_span is not None:
        spans.append(open_span)
    return spans


def _kv_tokens(raw: str) -> list[tuple[str | None, int, int]]:
    """(key, value start, value end) of each pair, as libpq splits them; tolerant.

    A word with no `=` gives (None, its start, its end); an unterminated quote runs to
    the end of the string.
    """
    tokens: list[tuple[str | None, int, int]] = []
    i, n = 0, len(raw)
    while i < n:
        if raw[i].isspace():
            i += 1
            continue
        key_start = i
        while i < n and raw[i] != "=" and not raw[i].isspace():
            i += 1
        key = raw[key_start:i]
        j = i
        while j < n and raw[j].isspace():
            j += 1
        if j >= n or raw[j] != "=":
            tokens.append((None, key_start, i))
            continue
        j += 1
        while j < n and raw[j].isspace():
            j += 1
        value_start = j
        if j < n and raw[j] == "'":
            j += 1
            while j < n and raw[j] != "'":
                j += 2 if raw[j] == "\\" else 1
            j = min(j + 1, n)
        else:
            while j < n and not raw[j].isspace():
                j += 2 if raw[j] == "\\" else 1
            j = min(j, n)
        tokens.append((key, value_start, j))
        i = j
    return tokens


def _kv_unescape(value: str) -> str:
    if value.startswith("'"):
        value = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
    return re.sub(r"\\(.)", r"\1", value)


# --- checking -------------------------------------------------------------------------
def check(raw: str, setting: str = "POSTGRES_ENDPOINT") -> dict[str, str]:
    """libpq's reading of `raw`; ConfigError naming `setting` (with no secret) if unusable.

    Beyond libpq's parser, which lets them through to fail at connect time: a URL whose
    host or database name holds an `@` (a password with an unescaped `@` or `/`, cut by
    libpq at the wrong place), and a port that is not a number from 1 to 65535.
    """
    scheme, sep, _ = raw.partition("://")
    if sep and not is_url(raw) and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise ConfigError(f"{setting} starts with {scheme + sep!r}: use {FORMS}")
    shown = redact(raw)
    try:
        parsed = {k: str(v) for k, v in conninfo_to_dict(raw).items()}
    except psycopg.Error as exc:
        raise ConfigError(
            f"{setting}={shown!r} is not a connection string libpq accepts "
            f"({_libpq_reason(exc, raw)}): use {FORMS}"
        ) from None
    if is_url(raw) and not _well_formed_url(raw):
        raise ConfigError(
            f"{setting}={shown!r} has an @ or / too many: percent-encode @ and / in the "
            "user name and password (%40, %2F)"
        )
    for port in filter(None, parsed.get("port", "").split(",")):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{setting}={shown!r} has a bad port: use a number from 1 to 65535")
    return parsed


def _libpq_reason(exc: BaseException, raw: str) -> str:
    """libpq's complaint without the fragments of `raw` it quotes (they may be secret),
    except option names outside any secret, which tell the user what to fix."""
    text = first_line(exc)
    shown = redact(raw)
    names = {
        word
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?=\s*=)", shown)
        if word.lower() not in secret_keys()
    } - secrets_of(raw)

    def keep(match: re.Match[str]) -> str:
        fragment = match.group(1)
        return match.group(0) if fragment == "=" or fragment in names else '"…"'

    return _QUOTED.sub(keep, text).rstrip(".")
