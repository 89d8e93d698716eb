"""Real-time push: Channels consumers, topics, CRUD event fan-out, the MQTT bridge."""
