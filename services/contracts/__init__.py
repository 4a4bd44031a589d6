"""The public contract between Pasokh's services: topics, event types and their payloads."""

from services.contracts import complaints, envelope, notifications, topics

__all__ = ["complaints", "envelope", "notifications", "topics"]
