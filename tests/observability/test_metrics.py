"""The Prometheus metrics: names, labels, buckets, and depths read at scrape time."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handoff_connectors.core.contract import CloseReason, DeskError, ServiceStatus
from handoff_connectors.observability.metrics import DELIVERY_BUCKETS, Metrics, classify_desk_error, queue_kind


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a render, keyed by (name, sorted labels): what Prometheus would parse."""
    body, _ = metrics.render()
    parsed = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


def names(metrics: Metrics) -> set[str]:
    return {name for name, _ in samples(metrics)}


def test_render_is_prometheus_text_with_its_content_type():
    body, content_type = Metrics(process_metrics=False).render()
    assert content_type.startswith("text/plain; version=")
    assert b"# TYPE rasa_handoff_handoffs_started_total counter" in body
    assert b"# TYPE rasa_handoff_delivery_seconds histogram" in body


def test_handoffs_started_and_ended_are_counted_by_desk_and_reason():
    metrics = Metrics(process_metrics=False)
    metrics.handoff_started("webhook")
    metrics.handoff_started("webhook")
    metrics.handoff_started("intercom")
    metrics.handoff_ended("webhook", CloseReason.TIMEOUT)
    metrics.handoff_ended("webhook", "agent_closed")

    assert value(metrics, "rasa_handoff_handoffs_started_total", desk="webhook") == 2
    assert value(metrics, "rasa_handoff_handoffs_started_total", desk="intercom") == 1
    assert value(metrics, "rasa_handoff_handoffs_ended_total", desk="webhook", reason="timeout") == 1
    assert value(metrics, "rasa_handoff_handoffs_ended_total", desk="webhook", reason="agent_closed") == 1


def test_messages_and_desk_errors_are_counted_each_way_and_by_kind():
    metrics = Metrics(process_metrics=False)
    metrics.message("user_to_agent", "local")
    metrics.message("agent_to_user", "local")
    metrics.message("agent_to_user", "local")
    for kind in ("auth", "retryable", "refused", "timeout", "timeout"):
        metrics.desk_error("local", kind)

    assert value(metrics, "rasa_handoff_messages_total", direction="user_to_agent", desk="local") == 1
    assert value(metrics, "rasa_handoff_messages_total", direction="agent_to_user", desk="local") == 2
    assert value(metrics, "rasa_handoff_desk_errors_total", desk="local", kind="timeout") == 2
    assert value(metrics, "rasa_handoff_desk_errors_total", desk="local", kind="auth") == 1


def test_delivery_latency_has_buckets_from_a_millisecond_to_thirty_seconds():
    metrics = Metrics(process_metrics=False)
    metrics.delivered("to_desk", 0.0004)
    metrics.delivered("to_desk", 0.2)
    metrics.delivered("to_desk", 45.0)

    bounds = sorted(
        float(dict(labels)["le"])
        for name, labels in samples(metrics)
        if name == "rasa_handoff_delivery_seconds_bucket" and dict(labels)["direction"] == "to_desk"
    )
    assert bounds == [*DELIVERY_BUCKETS, float("inf")]
    assert bounds[0] == 0.001 and bounds[-2] == 30.0
    assert value(metrics, "rasa_handoff_delivery_seconds_bucket", direction="to_desk", le="0.001") == 1
    assert value(metrics, "rasa_handoff_delivery_seconds_bucket", direction="to_desk", le="0.25") == 2
    assert value(metrics, "rasa_handoff_delivery_seconds_bucket", direction="to_desk", le="30.0") == 2
    assert value(metrics, "rasa_handoff_delivery_seconds_count", direction="to_desk") == 3


def test_both_queue_directions_are_exported_before_anything_was_delivered():
    metrics = Metrics(process_metrics=False)
    for direction in ("to_desk", "to_rasa"):
        assert value(metrics, "rasa_handoff_delivery_seconds_count", direction=direction) == 0
        assert value(metrics, "rasa_handoff_queued_seconds_count", direction=direction) == 0


def test_time_in_queue_and_time_to_first_reply_are_histograms():
    metrics = Metrics(process_metrics=False)
    metrics.queued_for("to_rasa", 12.0)
    metrics.first_agent_reply("intercom", 42.0)

    assert value(metrics, "rasa_handoff_queued_seconds_sum", direction="to_rasa") == 12.0
    assert value(metrics, "rasa_handoff_queued_seconds_bucket", direction="to_rasa", le="15.0") == 1
    assert value(metrics, "rasa_handoff_queued_seconds_bucket", direction="to_rasa", le="5.0") == 0
    assert value(metrics, "rasa_handoff_first_agent_reply_seconds_bucket", desk="intercom", le="60.0") == 1
    assert value(metrics, "rasa_handoff_first_agent_reply_seconds_bucket", desk="intercom", le="30.0") == 0


def test_a_negative_duration_from_clock_skew_counts_as_zero():
    metrics = Metrics(process_metrics=False)
    metrics.queued_for("to_desk", -0.3)
    assert value(metrics, "rasa_handoff_queued_seconds_sum", direction="to_desk") == 0.0
    assert value(metrics, "rasa_handoff_queued_seconds_count", direction="to_desk") == 1


def test_desk_status_is_one_hot_over_the_three_statuses():
    metrics = Metrics(process_metrics=False)
    metrics.desk_status("webhook", ServiceStatus.UNAVAILABLE)
    metrics.desk_status("webhook", ServiceStatus.AVAILABLE)
    metrics.desk_status("intercom", None)
    metrics.desk_status("local", "Not configured")  # ServiceStatus.value, as the engine passes it

    assert value(metrics, "rasa_handoff_desk_status", desk="webhook", status="available") == 1
    assert value(metrics, "rasa_handoff_desk_status", desk="webhook", status="unavailable") == 0
    assert value(metrics, "rasa_handoff_desk_status", desk="webhook", status="not_configured") == 0
    assert value(metrics, "rasa_handoff_desk_status", desk="intercom", status="not_configured") == 1
    assert value(metrics, "rasa_handoff_desk_status", desk="intercom", status="available") == 0
    assert value(metrics, "rasa_handoff_desk_status", desk="local", status="not_configured") == 1


def test_queue_depth_is_read_from_the_source_at_each_scrape():
    metrics = Metrics(process_metrics=False)
    depths = {"to_desk:h1": 2, "to_desk:h2": 1, "to_rasa:user-1": 4}
    reads = []

    def source():
        reads.append(dict(depths))
        return dict(depths)

    metrics.set_depth_source(source)
    assert reads == []  # nothing is read until Prometheus scrapes

    first = samples(metrics)
    assert first[("rasa_handoff_queue_depth", (("queue_kind", "to_desk"),))] == 3
    assert first[("rasa_handoff_queue_depth", (("queue_kind", "to_rasa"),))] == 4
    assert first[("rasa_handoff_parked_items", ())] == 0

    depths.clear()
    depths.update({"to_rasa": 1, "dead:to_desk:h1": 2})
    second = samples(metrics)
    assert second[("rasa_handoff_queue_depth", (("queue_kind", "to_desk"),))] == 0
    assert second[("rasa_handoff_queue_depth", (("queue_kind", "to_rasa"),))] == 1
    assert second[("rasa_handoff_queue_depth", (("queue_kind", "dead"),))] == 2
    assert second[("rasa_handoff_parked_items", ())] == 2
    assert len(reads) == 2  # one read per scrape


def test_a_failing_depth_source_leaves_the_rest_of_the_scrape_intact():
    metrics = Metrics(process_metrics=False)
    metrics.handoff_started("local")

    def broken():
        raise ConnectionError("store gone")

    metrics.set_depth_source(broken)
    assert value(metrics, "rasa_handoff_handoffs_started_total", desk="local") == 1
    assert "rasa_handoff_queue_depth" not in names(metrics)


def test_parked_items_are_counted_by_the_kind_of_queue_they_left():
    metrics = Metrics(process_metrics=False)
    metrics.parked("to_desk:3f2a9c")
    metrics.parked("to_desk")
    assert value(metrics, "rasa_handoff_parked_total", queue_kind="to_desk") == 2


def test_no_id_can_become_a_label_value():
    metrics = Metrics(process_metrics=False)
    metrics.handoff_started("Conversation 8c1e4b2a-77d0-4f6e-a1b3-9e0d2c5f6a7b of ana@example.com")
    metrics.parked("5f0c7d1e9a:whatever")
    metrics.message("sideways", "local")  # type: ignore[arg-type]

    rendered = metrics.render()[0].decode()
    assert "8c1e4b2a" not in rendered and "ana@example.com" not in rendered and "5f0c7d1e9a" not in rendered
    assert value(metrics, "rasa_handoff_handoffs_started_total", desk="other") == 1
    assert value(metrics, "rasa_handoff_parked_total", queue_kind="other") == 1
    assert value(metrics, "rasa_handoff_messages_total", direction="other", desk="local") == 1


def test_two_metrics_objects_in_one_process_count_separately():
    first, second = Metrics(), Metrics()
    first.handoff_started("local")
    assert value(first, "rasa_handoff_handoffs_started_total", desk="local") == 1
    assert ("rasa_handoff_handoffs_started_total", (("desk", "local"),)) not in samples(second)


def test_process_metrics_are_included_by_default_where_the_platform_has_them():
    assert "python_info" in names(Metrics())
    assert "python_info" not in names(Metrics(process_metrics=False))


@pytest.mark.parametrize(
    ("queue", "kind"),
    [("to_desk:abc", "to_desk"), ("to_rasa:user:with:colons", "to_rasa"), ("dead:to_rasa:u", "dead"),
     ("to_desk", "to_desk"), ("lease:to_desk:abc", "other")],
)
def test_queue_kind_is_the_prefix_before_the_first_colon(queue: str, kind: str):
    assert queue_kind(queue) == kind


async def test_desk_errors_are_classified_from_the_desk_error_and_its_cause():
    async def timed_out_call() -> None:
        try:
            raise httpx.ReadTimeout("slow desk")
        except httpx.HTTPError as error:
            raise DeskError(f"POST /x: {type(error).__name__}", retryable=True) from None

    with pytest.raises(DeskError) as timed_out:
        await timed_out_call()
    assert classify_desk_error(timed_out.value) == "timeout"
    assert classify_desk_error(DeskError("401", retryable=False, auth=True)) == "auth"
    assert classify_desk_error(DeskError("503", retryable=True)) == "retryable"
    assert classify_desk_error(DeskError("no such conversation", retryable=False)) == "refused"
    assert classify_desk_error(asyncio.TimeoutError()) == "timeout"
