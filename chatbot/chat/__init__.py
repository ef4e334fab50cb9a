"""Chat sessions, history stores, stop, metrics (built on chatbot.models)."""
