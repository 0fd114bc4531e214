"""The two default local models, and what their tests measure of them."""

import re

BASE, INSTRUCT = "local/gemma-3-270m", "local/smollm2-135m-instruct"
DOG = "Tell me how to train my dog to sit"


def prompt_echo(prompt: str, output: str) -> int:
    """How often the output repeats the prompt: occurrences of the prompt's word trigrams."""
    words = re.findall(r"[a-z']+", prompt.lower())
    trigrams = {tuple(words[i : i + 3]) for i in range(len(words) - 2)}
    said = re.findall(r"[a-z']+", output.lower())
    return sum(tuple(said[i : i + 3]) in trigrams for i in range(len(said) - 2))
