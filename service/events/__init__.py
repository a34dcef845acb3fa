"""Events out: what callgate tells the people and systems that act on leads.

One module per responsibility, each usable as a handler of a task on the lead queue:

- :mod:`.payload`   the event body for a lead (``lead.accepted`` … ``lead.held``, ``ping``)
- :mod:`.schemas`   that body's fields, declared once (the builder and ``/openapi.json`` use them)
- :mod:`.outbox`    the delivery result every channel returns, and the one retry schedule
- :mod:`.http`      the outbound HTTP client: pooled sessions, (connect, read) timeouts
- :mod:`.webhooks`  Standard Webhooks deliveries, signed with the ``standardwebhooks`` package
- :mod:`.alerts`    alert texts in four languages, grouping of bursts, when a channel may send
- :mod:`.notify`    sending an alert through Apprise (Telegram, Slack, Teams, e-mail…)
- :mod:`.ga4`       GA4 Measurement Protocol events (``generate_lead``, ``callgate_call_connected``)
- :mod:`.emit`      which tasks a lead's move asks for
- :mod:`.hook`      the store's outbox: those tasks, enqueued in the move's own transaction
- :mod:`.handlers`  the three task kinds: one try each, its result recorded on the task
- :mod:`.commands`  ``callgate webhooks list|replay|test`` and ``callgate notify test``

Only :mod:`.handlers` touches the store; the senders get what they need and return a
:class:`~.outbox.DeliveryResult`.
"""
