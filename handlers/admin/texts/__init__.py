"""What the operator's side says, one module per feature: pure functions that return HTML, called inside an
i18n context. Every text goes through gettext (``ngettext`` where a number is counted); stored values
(order statuses, ledger kinds, breaker states, write-off reasons) reach the screen only as labels.
"""
