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


# For students whose tokenizer has no chat template (base models such as deepseek-math-7b-base): DeepSeek's
# own plain format. The assistant turn ends with the tokenizer's EOS, so the student learns to stop with
# the token its inference engine stops on; the generation prompt "Assistant:" is a prefix of the rendered
# turn, so TRL's completion mask starts exactly at the answer.
FALLBACK_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n\n"
    "{% elif m['role'] == 'assistant' %}Assistant: {{ m['content'] }}{{ eos_token }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def student_tokenizer(name: str, chat_template: str | None = None):
    """The student's tokenizer with the chat template training and evaluation use (student.chat_template)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name)
    if chat_template == "fallback" or (chat_template is None and not tok.chat_template):
        tok.chat_template = FALLBACK_TEMPLATE
    elif chat_template:
        tok.chat_template = chat_template
    return tok
