"""Built-in arithmetic word problems with exact answers: the quickstart's seeds and test set.

Generated procedurally (deterministic per `seed`), so the quickstart reads no external data.
Seeds and the test set use different generator seeds and id prefixes.
"""

from __future__ import annotations

import random

NAMES = ["Ava", "Ben", "Chloe", "Diego", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena"]
ITEMS = [("apples", "baskets"), ("stickers", "sheets"), ("marbles", "bags"), ("pencils", "boxes"),
         ("cookies", "trays"), ("books", "shelves"), ("cards", "packs"), ("beads", "jars")]


def _buy_and_give(r: random.Random):
    name, (item, _) = r.choice(NAMES), r.choice(ITEMS)
    a, b, c = r.randint(5, 40), r.randint(2, 30), r.randint(1, 10)
    return (f"{name} has {a} {item}. {name} buys {b} more {item} and then gives away {c} {item} to a friend. "
            f"How many {item} does {name} have now?", a + b - c,
            f"{name} starts with {a} {item}. After buying {b} more, {name} has {a} + {b} = {a + b}. "
            f"After giving away {c}, {name} has {a + b} - {c} = {a + b - c}.")


def _groups(r: random.Random):
    name, (item, box) = r.choice(NAMES), r.choice(ITEMS)
    g, k, extra = r.randint(2, 9), r.randint(3, 12), r.randint(1, 9)
    return (f"{name} has {g} {box} with {k} {item} in each, and {extra} loose {item}. "
            f"How many {item} does {name} have in total?", g * k + extra,
            f"The {box} hold {g} x {k} = {g * k} {item}. Adding the {extra} loose ones gives "
            f"{g * k} + {extra} = {g * k + extra}.")


def _share(r: random.Random):
    name, (item, _) = r.choice(NAMES), r.choice(ITEMS)
    people, each, left = r.randint(2, 8), r.randint(2, 12), r.randint(1, 5)
    total = people * each + left
    return (f"{name} shares {total} {item} equally among {people} friends and keeps the {left} that are left over. "
            f"How many {item} does each friend get?", each,
            f"{name} gives out {total} - {left} = {total - left} {item}. Each of the {people} friends gets "
            f"{total - left} / {people} = {each}.")


def _price(r: random.Random):
    name, (item, _) = r.choice(NAMES), r.choice(ITEMS)
    n, price, paid = r.randint(2, 9), r.randint(2, 15), 0
    paid = (n * price // 10 + 1) * 10
    return (f"{name} buys {n} {item} that cost ${price} each and pays with ${paid}. "
            f"How much change does {name} get, in dollars?", paid - n * price,
            f"The {item} cost {n} x {price} = {n * price} dollars. The change is {paid} - {n * price} = "
            f"{paid - n * price} dollars.")


TEMPLATES = [_buy_and_give, _groups, _share, _price]


def generate(count: int, seed: int, prefix: str) -> list[dict]:
    """`count` problems as records: id, dataset, problem, answer, solution."""
    r = random.Random(seed)
    out = []
    for i in range(count):
        problem, answer, steps = TEMPLATES[i % len(TEMPLATES)](r)
        out.append({"id": f"{prefix}-{i:05d}", "dataset": "builtin", "problem": problem,
                    "answer": str(answer), "solution": f"{steps}\nThe answer is $\\boxed{{{answer}}}$."})
    return out


def seeds(count: int) -> list[dict]:
    return generate(count, seed=1234, prefix="builtin-train")


def test_set(count: int) -> list[dict]:
    return generate(count, seed=98765, prefix="builtin-test")
