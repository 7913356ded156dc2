"""The fault suite's counting rules, checked on their own: a wrong counter would pass every case."""

from __future__ import annotations

from .figures import Figures, Tally, repeated, tally, tally_streams


def test_a_clean_stream_counts_nothing_wrong() -> None:
    assert tally(["a", "b", "c"], ["a", "b", "c"]) == Tally(messages=3, lost=0, reordered=0, duplicated=0)


def test_missing_messages_are_lost_and_repeats_are_duplicates() -> None:
    assert tally(["a", "b", "c"], ["a", "a", "c", "c", "c"]) == Tally(3, lost=1, reordered=0, duplicated=3)


def test_one_message_overtaken_by_many_counts_as_one_reordered() -> None:
    assert tally(list("abcdef"), list("bcdefa")).reordered == 1
    assert tally(list("abcdef"), list("fedcba")).reordered == 5


def test_a_late_duplicate_does_not_count_as_reordered() -> None:
    assert tally(["a", "b"], ["a", "b", "a"]) == Tally(2, lost=0, reordered=0, duplicated=1)


def test_another_conversations_message_counts_as_foreign() -> None:
    counts = tally_streams({"ana": ["a1"], "bo": ["b1"]}, {"ana": ["a1", "b1"], "bo": []})
    assert (counts.lost, counts.foreign) == (1, 1)


def test_order_only_counts_within_each_conversation() -> None:
    assert tally_streams({"ana": ["a1", "a2"], "bo": ["b1"]}, {"bo": ["b1"], "ana": ["a1", "a2"]}).reordered == 0


def test_repeated_lists_each_token_received_twice_once() -> None:
    assert repeated(["a", "b", "a", "a", "b"]) == ["a", "b"]


def test_the_printed_line_has_the_agreed_fields_first() -> None:
    line = Figures("x", Tally(2, 0, 0, 1), recovery=1.234, all_delivered=None, extra={"held": 2}).line()
    assert line == "FAULT x: messages=2 lost=0 reordered=0 duplicated=1 recovery=1.23s all_delivered=n/a held=2"
