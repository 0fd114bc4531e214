"""Cost of `diagnose` per answer, on the dispatcher's hot path: microseconds per call.

    python -m bench.diagnostics

Prints the mean over many calls for an empty, a short, a typical (about 100 words), a looping
base-model and a 4,000-word output. The aim is well under 100 µs for a typical answer. A
benchmark, not a test: run it by hand.
"""

import timeit
from functools import partial

from app.diagnostics import diagnose

PROMPT = "Tell me how to train my dog to sit"
TYPICAL = (
    "Training a dog to sit is one of the first things to teach. Hold a treat close to your "
    "dog's nose, then move your hand up, so that its head follows the treat and its bottom "
    'lowers. Once it is in the sitting position, say "sit", give it the treat and share '
    "some affection. Repeat this sequence a few times every day until your dog has mastered "
    "it. Then ask your dog to sit before meals, walks and other situations where you would "
    "like it calm and seated. Keep sessions short and always end on a success."
)
LOOPING = "I'm not sure how to train my dog to sit on a chair.\n\n" * 12
CASES = {
    "empty": "",
    "short (4 words)": "Canberra is the capital.",
    f"typical ({len(TYPICAL.split())} words)": TYPICAL,
    f"base-model loop ({len(LOOPING.split())} words)": LOOPING,
    "4,000 words": " ".join((TYPICAL.split() * 50)[:4000]),
}


def main() -> None:
    print(f"{'output':<28} {'µs per call':>12}")
    for name, output in CASES.items():
        timer = timeit.Timer(partial(diagnose, output, PROMPT, "stop"))
        calls, _ = timer.autorange()
        best = min(timer.repeat(5, calls)) / calls
        print(f"{name:<28} {best * 1e6:>12.1f}")


if __name__ == "__main__":
    main()
