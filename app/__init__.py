"""llm-compare: send the same prompts to several language models and keep every pair."""
