"""Telegram adapters: each reads an update, asks ``assessment`` to act, renders the reply."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from handlers import (
    annual,
    appeals,
    approvals,
    bonus,
    bonus_changes,
    broadcast,
    citizens,
    entries,
    errors,
    exports,
    gate,
    invitations,
    language,
    log,
    notices,
    peers,
    people,
    periods,
    record,
    reminders,
    results,
    review,
    roster,
    scores,
    start,
    stats,
    third_parties,
)
from handlers.callbacks import (
    Acknowledge,
    AppealApprove,
    AppealAsk,
    AppealDecide,
    AppealExtend,
    AppealOpen,
    AppealScore,
    ApproveShown,
    BonusCorrect,
    BonusDiscard,
    BonusPublish,
    BonusWithdraw,
    CitizenDecide,
    CitizenStars,
    CitizenWindow,
    DayPage,
    Decide,
    DigestTime,
    EntryAction,
    EntryOpen,
    ExportRun,
    InviteDepartment,
    InvitePage,
    LogAnswer,
    MonthPage,
    NoticeAudience,
    NoticeChoices,
    NoticeDecision,
    NoticeDetails,
    NoticeExport,
    NoticeList,
    NoticeOption,
    NoticeRemind,
    NoticeToggle,
    PeerRate,
    PeerShow,
    PendingPage,
    RecordExport,
    ReminderAction,
    ResultsCalibrate,
    ResultsDepartment,
    ResultsExclude,
    ResultsGrade,
    ResultsOverview,
    ResultsPerson,
    ResultsPublish,
    ResultsQuota,
    ReviewList,
    ReviewOpen,
    ReviewPoints,
    ReviewRate,
    ReviewSignOff,
    RosterDecision,
    ScoreRead,
    SelfOpen,
    SelfRate,
    SelfText,
    SetLanguage,
    ThirdPartyDepartment,
    ThirdPartyDepartments,
    ThirdPartyIssue,
    ThirdPartyList,
    ThirdPartyOpen,
    ThirdPartyRate,
    ThirdPartyRevoke,
)
from handlers.context import WorkledgerApplication, WorkledgerContext

# The gate runs first so every handler sees a known, permitted caller; then a notice
# being composed, or an answer to a /log question, takes the person's next message
# before anything else may; last, an update that wrote nothing is recorded as handled.
GATE_GROUP = -2
COMPOSE_GROUP = -1
SETTLE_GROUP = 99

Callback = Callable[[Update, WorkledgerContext], Coroutine[Any, Any, None]]


def _in_turn(*callbacks: Callback) -> Callback:
    """One callback running ``callbacks`` in order, until one of them stops the update.

    PTB runs at most one handler per group, so two captures of the same messages in
    one group must share a handler; each raises ``ApplicationHandlerStop`` when it
    takes the message.
    """

    async def run(update: Update, context: WorkledgerContext) -> None:
        for callback in callbacks:
            await callback(update, context)

    return run


def register(application: WorkledgerApplication) -> None:
    """Attach every handler to ``application``."""
    application.add_handler(TypeHandler(Update, gate.admit), group=GATE_GROUP)
    application.add_handler(TypeHandler(Update, gate.settle), group=SETTLE_GROUP)
    application.add_handler(
        MessageHandler(
            (filters.TEXT & ~filters.COMMAND) | filters.Document.ALL | filters.PHOTO,
            _in_turn(
                citizens.capture,
                approvals.capture,
                results.capture,
                broadcast.capture,
                review.capture,
                appeals.capture,
                bonus_changes.capture,
                log.capture,
            ),
        ),
        group=COMPOSE_GROUP,
    )
    # /cancel ends a reason asked or a /log in progress here; otherwise it goes on to the
    # notice draft.
    application.add_handler(
        CommandHandler(
            "cancel",
            _in_turn(
                approvals.cancel,
                results.cancel,
                review.cancel,
                appeals.cancel,
                bonus_changes.cancel,
                log.cancel,
            ),
        ),
        group=COMPOSE_GROUP,
    )
    application.add_handlers(
        [
            CommandHandler("start", start.start),
            CommandHandler("help", start.help_command),
            CommandHandler("me", people.me),
            CommandHandler("team", people.my_team),
            CommandHandler("language", language.ask),
            CommandHandler("invite", invitations.invite_people),
            CommandHandler("unlink", invitations.unlink_account),
            CommandHandler("import", roster.explain),
            CommandHandler("broadcast", broadcast.begin),
            CommandHandler("cancel", broadcast.cancel_command),
            CommandHandler("notices", notices.list_notices),
            CommandHandler("log", log.begin),
            CommandHandler("today", entries.show_today),
            CommandHandler("pending", approvals.show_pending),
            CommandHandler("settings", approvals.show_settings),
            CommandHandler("delegate", approvals.delegate_command),
            CommandHandler("reopen", periods.reopen_command),
            CommandHandler("self", review.self_command),
            CommandHandler("review", review.review_command),
            CallbackQueryHandler(review.self_open, pattern=SelfOpen.pattern()),
            CallbackQueryHandler(review.self_rate, pattern=SelfRate.pattern()),
            CallbackQueryHandler(review.self_ask_text, pattern=SelfText.pattern()),
            CallbackQueryHandler(review.turn_team, pattern=ReviewList.pattern()),
            CallbackQueryHandler(review.open_card, pattern=ReviewOpen.pattern()),
            CallbackQueryHandler(review.rate, pattern=ReviewRate.pattern()),
            CallbackQueryHandler(review.ask_points, pattern=ReviewPoints.pattern()),
            CallbackQueryHandler(review.sign_off, pattern=ReviewSignOff.pattern()),
            CommandHandler("results", results.results_command),
            CommandHandler("score", scores.score_command),
            CommandHandler("rate", citizens.rate_command),
            CallbackQueryHandler(citizens.press_stars, pattern=CitizenStars.pattern()),
            CallbackQueryHandler(citizens.window_code, pattern=CitizenWindow.pattern()),
            CallbackQueryHandler(citizens.decide, pattern=CitizenDecide.pattern()),
            CommandHandler("thirdparty", third_parties.third_party_command),
            CallbackQueryHandler(
                third_parties.choose_department, pattern=ThirdPartyDepartment.pattern()
            ),
            CallbackQueryHandler(
                third_parties.turn_departments, pattern=ThirdPartyDepartments.pattern()
            ),
            CallbackQueryHandler(third_parties.create_link, pattern=ThirdPartyIssue.pattern()),
            CallbackQueryHandler(third_parties.press_revoke, pattern=ThirdPartyRevoke.pattern()),
            CallbackQueryHandler(third_parties.show_people, pattern=ThirdPartyList.pattern()),
            CallbackQueryHandler(third_parties.show_person, pattern=ThirdPartyOpen.pattern()),
            CallbackQueryHandler(third_parties.press_rating, pattern=ThirdPartyRate.pattern()),
            CommandHandler("annual", annual.annual_command),
            CommandHandler("honour", annual.honour_command),
            CommandHandler("training", annual.training_command),
            CommandHandler("record", record.record_command),
            CommandHandler("stats", stats.stats_command),
            CallbackQueryHandler(record.export_record, pattern=RecordExport.pattern()),
            CallbackQueryHandler(results.show_overview, pattern=ResultsOverview.pattern()),
            CallbackQueryHandler(results.show_department, pattern=ResultsDepartment.pattern()),
            CallbackQueryHandler(results.show_person, pattern=ResultsPerson.pattern()),
            CallbackQueryHandler(results.choose_grade, pattern=ResultsGrade.pattern()),
            CallbackQueryHandler(results.ask_exclusion, pattern=ResultsExclude.pattern()),
            CallbackQueryHandler(results.press_publish, pattern=ResultsPublish.pattern()),
            CallbackQueryHandler(
                results.press_start_calibration, pattern=ResultsCalibrate.pattern()
            ),
            CallbackQueryHandler(results.press_quota, pattern=ResultsQuota.pattern()),
            CommandHandler("bonus", bonus.bonus_command),
            CommandHandler("allowance", bonus_changes.allowance_command),
            CallbackQueryHandler(bonus.press_publish, pattern=BonusPublish.pattern()),
            CallbackQueryHandler(bonus.press_discard, pattern=BonusDiscard.pattern()),
            CallbackQueryHandler(bonus_changes.press_withdraw, pattern=BonusWithdraw.pattern()),
            CallbackQueryHandler(bonus_changes.press_correct, pattern=BonusCorrect.pattern()),
            CallbackQueryHandler(scores.read_it, pattern=ScoreRead.pattern()),
            CommandHandler("peers", peers.peers_command),
            CallbackQueryHandler(peers.press_rate, pattern=PeerRate.pattern()),
            CallbackQueryHandler(peers.press_show, pattern=PeerShow.pattern()),
            CommandHandler("appeal", appeals.appeal_command),
            CallbackQueryHandler(appeals.ask, pattern=AppealAsk.pattern()),
            CallbackQueryHandler(appeals.open_case, pattern=AppealOpen.pattern()),
            CallbackQueryHandler(appeals.choose, pattern=AppealDecide.pattern()),
            CallbackQueryHandler(appeals.choose, pattern=AppealExtend.pattern()),
            CallbackQueryHandler(appeals.choose, pattern=AppealApprove.pattern()),
            CallbackQueryHandler(appeals.choose, pattern=AppealScore.pattern()),
            CommandHandler("export", exports.export_command),
            CallbackQueryHandler(exports.run_export, pattern=ExportRun.pattern()),
            CallbackQueryHandler(approvals.press, pattern=Decide.pattern()),
            CallbackQueryHandler(approvals.approve_shown, pattern=ApproveShown.pattern()),
            CallbackQueryHandler(approvals.turn_page, pattern=PendingPage.pattern()),
            CallbackQueryHandler(approvals.choose_digest, pattern=DigestTime.pattern()),
            CommandHandler("month", entries.show_month),
            MessageHandler(filters.Document.ALL, roster.receive),
            CallbackQueryHandler(language.choose, pattern=SetLanguage.pattern()),
            CallbackQueryHandler(
                invitations.invite_whole_department, pattern=InviteDepartment.pattern()
            ),
            CallbackQueryHandler(invitations.turn_departments, pattern=InvitePage.pattern()),
            CallbackQueryHandler(roster.decide, pattern=RosterDecision.pattern()),
            CallbackQueryHandler(broadcast.choose_kind, pattern=NoticeAudience.pattern()),
            CallbackQueryHandler(broadcast.toggle, pattern=NoticeToggle.pattern()),
            CallbackQueryHandler(broadcast.turn_choices, pattern=NoticeChoices.pattern()),
            CallbackQueryHandler(broadcast.option, pattern=NoticeOption.pattern()),
            CallbackQueryHandler(broadcast.decide, pattern=NoticeDecision.pattern()),
            CallbackQueryHandler(broadcast.acknowledge, pattern=Acknowledge.pattern()),
            CallbackQueryHandler(notices.back_to_list, pattern=NoticeList.pattern()),
            CallbackQueryHandler(notices.show_details, pattern=NoticeDetails.pattern()),
            CallbackQueryHandler(notices.remind_unread, pattern=NoticeRemind.pattern()),
            CallbackQueryHandler(notices.export, pattern=NoticeExport.pattern()),
            CallbackQueryHandler(reminders.answer_reminder, pattern=ReminderAction.pattern()),
            CallbackQueryHandler(log.answer, pattern=LogAnswer.pattern()),
            CallbackQueryHandler(entries.act, pattern=EntryAction.pattern()),
            CallbackQueryHandler(entries.open_entry, pattern=EntryOpen.pattern()),
            CallbackQueryHandler(entries.turn_month, pattern=MonthPage.pattern()),
            CallbackQueryHandler(entries.turn_day, pattern=DayPage.pattern()),
            # A member's plain text is a quick log entry; only what is left is not understood.
            MessageHandler(filters.TEXT & ~filters.COMMAND, log.quick_log),
            MessageHandler(filters.ALL, start.unknown),
        ]
    )
    application.add_error_handler(errors.on_error)
