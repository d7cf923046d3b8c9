"""Data shipped with the package: Vicuna-80 questions and FastChat's judge prompt formats (see SOURCES.md)."""
