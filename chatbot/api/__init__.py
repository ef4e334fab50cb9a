"""The chat API's contract: everything the API and the web app share.

The API (lambdas/chat_api) and the web app (streamlit_app) both import these modules, so the two
sides cannot drift apart:
- requests: what the API takes (chat, compare, vote, rename, stop);
- what it answers: records (sessions, messages, votes, as the stores keep them), sessions (a
  conversation, a vote's outcome, an import's counts), leaderboard, documents, api_keys, users,
  catalog (GET /models and /limits);
- lanes: the panes of a compare or arena session; answer (with timing): the turn accumulator
  both sides feed with the stream's events (chatbot/models/events.py, the event schema);
- local sign-in, where the app signs users in and the API checks them: the users file (users),
  the tokens (local_tokens), and the settings base both read their environment with
  (env_settings); limits: the parameter bounds the app checks before it sends.

This package imports nothing from the rest of `chatbot/` beyond the event schema, so the web app's
image copies it whole (tests/streamlit_app/test_image.py checks both).
"""
