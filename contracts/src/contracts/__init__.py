"""One Window contracts: the only package services share about each other."""

from contracts.envelope import ENVELOPE_FIELDS, Event, InvalidEvent
from contracts.topics import TOPICS, TopicSpec, dead_letter_topic, topic_for, topic_for_type

__all__ = ["ENVELOPE_FIELDS", "TOPICS", "Event", "InvalidEvent", "TopicSpec", "dead_letter_topic", "topic_for", "topic_for_type"]
