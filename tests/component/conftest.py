"""Settings of the services' apps run in-process, each test on a database of its own."""

from __future__ import annotations

import pytest

from approvals.config import Settings as ApprovalsSettings
from notifications.config import Settings as NotificationSettings
from ratings.config import Settings as RatingSettings
from registration.config import Settings as RegistrationSettings
from servicekit.config import load


@pytest.fixture
def reg_settings(infra_env, unique) -> RegistrationSettings:
    return load(RegistrationSettings, mongodb_database=f"reg_{unique}")


@pytest.fixture
def ntf_settings(infra_env, unique) -> NotificationSettings:
    return load(NotificationSettings, mongodb_database=f"ntf_{unique}")


@pytest.fixture
def apr_settings(infra_env, unique) -> ApprovalsSettings:
    return load(ApprovalsSettings, mongodb_database=f"apr_{unique}")


@pytest.fixture
def rat_settings(infra_env, unique) -> RatingSettings:
    return load(RatingSettings, mongodb_database=f"rat_{unique}")
