"""Training examples as the student sees them: one rendering for train, the length filter and QFT."""

from __future__ import annotations


def to_example(row: dict, prompt: str) -> dict:
    """One training example in TRL's conversational prompt/completion format."""
    return {"prompt": [{"role": "user", "content": f"{row['problem']}\n{prompt}"}],
            "completion": [{"role": "assistant", "content": row["solution"]}]}


def fit_examples(rows: list[dict], tok, prompt: str, max_length: int) -> tuple[list[dict], list[dict]]:
    """Split rows into examples that fit `max_length` tokens (chat template included) and rows that do not."""
    examples, too_long = [], []
    for r in rows:
        ex = to_example(r, prompt)
        text = tok.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=False)
        if len(tok(text, add_special_tokens=False)["input_ids"]) <= max_length:
            examples.append(ex)
        else:
            too_long.append(r)
    return examples, too_long
