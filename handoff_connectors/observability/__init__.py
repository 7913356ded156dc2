"""What a production deployment watches: Prometheus metrics, JSON logs, readiness.

`metrics` counts and times what the delivery engine does, `logs` formats and
redacts every log line, `routes` serves `/metrics` and `/ready` from a Sanic
app. The engine calls into these; nothing here calls the engine.
"""
