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
- :mod:`.emit`      which tasks a lead's move asks for (the transition hook calls it)
- :mod:`.commands`  ``callgate webhooks test`` and ``callgate notify test``

Nothing here touches the store: the queue hands each handler what it needs and records the
:class:`~.outbox.DeliveryResult` it gets back.
"""
