"""`make test` leaves the user's data as it found it (tests/conftest.py runs this last).

The user's data is what `make up` uses on the local services: the default database and
the default topics and consumer groups. tests/support/user_data.py records it before
the first test and again here.
"""

from __future__ import annotations

import pytest

from tests.support.user_data import UserData, database_name, differences, take, user_topics
from wac.localservices import LocalServices

pytestmark = pytest.mark.integration


def test_the_session_has_a_database_and_topics_of_its_own(
    services_env: dict[str, str], local_services: LocalServices
) -> None:
    user = local_services.env()
    assert database_name(services_env["POSTGRES_ENDPOINT"]) != database_name(
        user["POSTGRES_ENDPOINT"]
    )
    assert services_env["KAFKA_TOPIC"] not in user_topics()


def test_the_users_data_is_untouched(
    user_data_before: UserData, local_services: LocalServices
) -> None:
    after = take(local_services.env())
    assert differences(user_data_before, after) == [], (
        f"the tests changed the user's data in database {after.database!r} or topics "
        f"{user_topics()} of the local services"
    )
