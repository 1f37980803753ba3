"""Local Apache Kafka and PostgreSQL for development, tests and CI (``wac services ...``).

``LocalServices().up()`` starts a single-node Kafka (KRaft; SSL listener requiring client
certificates) and a private PostgreSQL cluster, both on 127.0.0.1, and ``env()`` returns the
settings the application needs to use them. See :mod:`wac.localservices.paths` for the file layout.
"""

from wac.localservices.errors import ServiceError
from wac.localservices.manager import LocalServices, ServiceStatus

__all__ = ["LocalServices", "ServiceError", "ServiceStatus"]
