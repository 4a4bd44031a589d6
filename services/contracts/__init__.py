"""The public contract between Pasokh's services: topics, event types and their payloads."""

from services.contracts import citizens, complaints, envelope, notifications, topics

__all__ = ["citizens", "complaints", "envelope", "notifications", "topics"]
