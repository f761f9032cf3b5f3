"""What the bot says, one module per feature: pure functions that return HTML, called inside an i18n context.

Every text goes through gettext (``ngettext`` where a number is counted); raw values (order statuses,
ledger kinds) reach the screen only through :mod:`handlers.texts.labels`.
"""
