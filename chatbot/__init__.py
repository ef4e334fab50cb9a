"""The chatbot core library: models, chat, retrieval. Imports neither streamlit nor pulumi."""
