"""One Window contracts: the only package services share about each other."""

from contracts.envelope import Event, InvalidEvent
from contracts.topics import TOPICS, TopicSpec, dead_letter_topic, topic_for, topic_for_type

__all__ = ["TOPICS", "Event", "InvalidEvent", "TopicSpec", "dead_letter_topic", "topic_for", "topic_for_type"]
