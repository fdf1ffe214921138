"""Notices: the outbox dispatcher, the notifiers (Kannel SMS, webhook, e-mail, console),
their texts and the SMS gateway's callbacks."""
