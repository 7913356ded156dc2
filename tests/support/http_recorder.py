"""The recording HTTP server now lives in the connector test kit; tests here keep importing it by this name."""

from handoff_connectors.testing.recorder import Handler, Recorded, RecordingServer, Reply

__all__ = ["Handler", "Recorded", "RecordingServer", "Reply"]
