"""Training-data preparation: the length filter and the prompt/completion format."""

from transformers import AutoTokenizer

from flames.llm.embedded import embedded_model_dir
from flames.examples import fit_examples, to_example


def test_length_filter_counts_tokens_of_the_rendered_chat():
    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    short = {"id": "a", "problem": "What is 1+1?", "solution": "It is \\boxed{2}."}
    long = {"id": "b", "problem": "What is 1+1? " * 50, "solution": "two " * 200}
    examples, too_long = fit_examples([short, long], tok, "Reason step by step.", max_length=128)
    assert examples == [to_example(short, "Reason step by step.")] and too_long == [long]
    assert examples[0]["completion"] == [{"role": "assistant", "content": short["solution"]}]
