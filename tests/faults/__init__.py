"""Fault suite: messages survive outages, kills and poison items, none lost, none stuck."""
