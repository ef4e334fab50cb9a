"""The Streamlit web app: UI only. It reaches the chat API over HTTP, locally and on ECS alike."""
