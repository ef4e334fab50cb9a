"""The chat API's contract: every request, response and event the API sends or receives.

The API (lambdas/chat_api) and the web app (streamlit_app) both import these classes, so the two
sides cannot drift apart. One module per area of the API; this package imports nothing from the
rest of `chatbot/` beyond the event schema, so the web app's image can copy it whole.
"""
