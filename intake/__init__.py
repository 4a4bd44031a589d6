"""intake: Pasokh's only HTTP edge. Validates, assigns ids and tracking codes, publishes to Kafka."""
