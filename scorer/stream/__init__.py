"""The Kafka side: Faust app, topics, tables, agents, and topic administration."""
