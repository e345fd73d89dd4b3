"""The wider top-grade share where the quota counts the whole organisation: approved
from the /results overview (the policy's ``[quota] scope = "organisation"``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.emulator import EmulatorDriver
from config.policy import load_policy
from config.settings import Settings
from handlers.context import WorkledgerApplication
from storage.models import QuotaApproval

from .chat import buttons, say
from .people import Organisation
from .test_quota_approval import ADMIN, change_quota, grades

# The same organisation, as a fixture of this module too.
from .test_quota_approval import org as org

pytestmark = pytest.mark.e2e


@pytest.fixture
def application(settings: Settings) -> WorkledgerApplication:
    policy = load_policy()
    wide = policy.model_copy(
        update={"quota": policy.quota.model_copy(update={"scope": "organisation"})}
    )
    return build_application(settings, wide)


async def test_the_organisation_wide_share_is_approved_on_the_overview(
    bot: WorkledgerApplication, driver: EmulatorDriver, org: Organisation
) -> None:
    overview = await say(driver, ADMIN, "/results")
    # Four scored in the organisation (HR's two have no review yet): 20% is no place.
    assert "Top grade (Excellent): 0 given, at most 0 of 4 (20%)." in overview["text"]
    hr_view = await say(driver, org.hr, "/results")
    assert "Approve the wider share (25%)" not in buttons(hr_view)
    reply = await change_quota(
        driver, overview, "Approve the wider share (25%)", "The whole office exceeded targets"
    )
    assert reply == (
        "The wider top-grade share is approved for the whole organisation in November 2026: "
        "at most 1 of 4 may have Excellent."
    )
    async with bot.bot_data.database.uow() as uow:
        [approval] = list(await uow.session.scalars(select(QuotaApproval)))
    assert (approval.scope_key, approval.department_id) == ("organisation", None)
    assert (await grades(bot))["E010"] == ("excellent", None)
    overview = await say(driver, ADMIN, "/results")
    assert "Top grade (Excellent): 1 given, at most 1 of 4 (25%)." in overview["text"]
    assert "Withdraw the wider share" in buttons(overview)
