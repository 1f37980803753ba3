"""The settings layer: every setting wac reads, defined once and parsed one way.

- `variables`: the table of environment variables (name, type and bounds, default,
  meaning, the options that mirror it);
- `environment`: the one merge of the process environment over `.env`;
- `values`: the parsers of setting text (numbers, ports, booleans, endpoints, tokens);
- `durations`: the one duration grammar (`ms`, `s`, `m`, `h`, `d`, `w`);
- `options`: click options built from the variables they mirror;
- `bound`: typed settings whose fields are read from the variables they name;
- `table`: the README's table of variables, generated from the definitions.

The typed settings every service shares (Kafka and PostgreSQL) are in wac.config, built
from these; the targets file's fields are in wac.targets.
"""
