"""Is a predicted answer equivalent to the gold one?

Two stages. The fast path (``fast_path``: pure Python, microseconds) compares normalized
keys, exact rational values of plain numbers, unordered lists of numbers and prose.
Whatever it cannot decide goes to the slow path (math-verify's ``parse`` + ``verify``, or sympy in
the ``qwen`` mode; milliseconds to seconds). ``plan_pair`` runs the fast path and says
what the slow path would still have to check; ``finish`` turns a slow-path result into a
:class:`Verdict`. ``grade_batch`` uses the same two functions with a process pool in
between. Each grading mode (``flames.grading.modes``) has its own fast and slow path.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, replace

from . import qwen
from ._latex import split_top_level
from .cleanup import comma_readings
from .extract import inner_answer
from .fast_path import fast_opinion
from .modes import DEFAULT_MODE, check_mode
from .normalize import is_prose

logger = logging.getLogger("flames.grading")

@dataclass(frozen=True)
class Verdict:
    """The grade of one (prediction, gold) pair.

    ``method`` is "string" (decided by the fast path), "math_verify", "symbolic" (the
    ``qwen`` mode's sympy step), "timeout", "no_answer" (prediction missing or empty) or
    "error" (the slow path crashed, or the gold is missing). ``disagreement`` is True
    when the fast path held an opinion and the slow path, which also ran, concluded the
    opposite.
    """

    equivalent: bool
    method: str
    timed_out: bool = False
    disagreement: bool = False


@dataclass(frozen=True)
class Plan:
    """What the fast path made of one pair.

    ``decided`` is the final verdict when the fast path could decide. ``opinion`` is
    its view even when it could not (two numbers that differ by a rounding error).
    ``candidates`` are the cleaned (pred, gold) readings the slow path should check, the
    primary reading first; empty when there is nothing to check. ``mode`` says which
    slow path (:func:`slow_equal`).
    """

    decided: Verdict | None
    opinion: bool | None
    candidates: tuple[tuple[str, str], ...]
    mode: str = DEFAULT_MODE

    @property
    def task(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What a grading worker receives: ``slow_equal(*task)``."""
        return self.mode, self.candidates


def plan_pair(pred: str | None, gold: str | None, *, audit: bool = False, mode: str = DEFAULT_MODE) -> Plan:
    """Run the fast path of ``mode`` on one pair.

    Either side may be a bare answer, a boxed answer or a short answer sentence ("The
    answer is $\\boxed{5}$."): the answer inside is graded. With ``audit=True`` decided
    pairs keep their candidates, so that the caller can run the slow path anyway and
    record disagreements.
    """
    check_mode(mode)
    if gold is None or not str(gold).strip():
        return Plan(Verdict(False, "error"), None, (), mode)
    if pred is None or not str(pred).strip():
        return Plan(Verdict(False, "no_answer"), None, (), mode)
    if mode == "qwen":
        return _plan_qwen(str(pred), str(gold), audit)
    if mode == "math_verify":
        return Plan(None, None, ((str(pred), str(gold)),), mode)
    return _plan_flames(inner_answer(str(pred)), inner_answer(str(gold)), audit)


def _plan_qwen(pred: str, gold: str, audit: bool) -> Plan:
    """Qwen's normalisation on both sides, then its ``math_equal`` up to the sympy step.

    A side may normalise to "" (``\\text{east}``: a unit word); Qwen then compares the
    empty strings like any others, so this does too.
    """
    p = qwen.normalize(qwen.extract_raw(pred) or "" if qwen.looks_like_output(pred) else pred)
    g = qwen.normalize(qwen.extract_raw(gold) or "" if qwen.looks_like_output(gold) else gold)
    fast = qwen.qwen_equal(p, g, symbolic=False)
    if fast is None:
        return Plan(None, None, ((p, g),), "qwen")
    return Plan(Verdict(fast, "string"), fast, ((p, g),) if audit else (), "qwen")


def _plan_flames(pred: str, gold: str, audit: bool) -> Plan:
    preds = [p for p in comma_readings(pred) if p]
    if not preds:
        return Plan(Verdict(False, "no_answer"), None, ())
    golds = [g for g in comma_readings(gold) if g]
    if not golds:
        return Plan(Verdict(False, "error"), None, ())
    pairs = tuple((p, g) for p in preds for g in golds)
    opinions = [fast_opinion(p, g) for p, g in pairs]
    if any(op is True and decisive for op, decisive in opinions):
        decided: Verdict | None = Verdict(True, "string")
    elif all(op is False and decisive for op, decisive in opinions):
        decided = Verdict(False, "string")
    else:
        decided = None
    if decided is not None:
        return Plan(decided, decided.equivalent, pairs if audit else ())
    opinion = False if any(op is False for op, _ in opinions) else None
    return Plan(None, opinion, pairs)


def finish(plan: Plan, mv_equal: bool, *, label: str = "") -> Verdict:
    """Combine a plan with the slow path's answer; log when the two disagree."""
    if plan.decided is not None:  # audit mode: the fast path stands, disagreement noted
        verdict = replace(plan.decided, disagreement=mv_equal != plan.decided.equivalent)
    else:
        method = "symbolic" if plan.mode == "qwen" else "math_verify"
        verdict = Verdict(mv_equal, method, disagreement=plan.opinion is not None and plan.opinion != mv_equal)
    if verdict.disagreement:
        pred, gold = plan.candidates[0] if plan.candidates else ("", "")
        logger.debug(
            "string path said %s, slow path said %s%s: pred=%r gold=%r",
            plan.opinion,
            mv_equal,
            f" ({label})" if label else "",
            pred[:200],
            gold[:200],
        )
    return verdict


def is_equivalent(pred: str, gold: str, *, mode: str = DEFAULT_MODE) -> bool:
    """Whether ``pred`` equals ``gold`` under the grading ``mode``, in this process.

    Either side may be a bare answer, a boxed answer or a short answer sentence. Fast
    path first, then the slow path. In the main thread math-verify's own 5 s
    signal-based timeouts apply; in other threads they cannot (signals), so there is
    no timeout there (nor in the ``qwen`` mode's sympy step). For many pairs, or
    untrusted input, use ``grade_batch``: it enforces a hard per-item timeout from a
    parent process.
    """
    plan = plan_pair(pred, gold, mode=mode)
    if plan.decided is not None:
        return plan.decided.equivalent
    in_main = threading.current_thread() is threading.main_thread()
    return finish(plan, slow_equal(*plan.task, signal_timeout=5 if in_main else None)).equivalent


def slow_equal(mode: str, candidates: tuple[tuple[str, str], ...], *, signal_timeout: int | None = None) -> bool:
    """The slow path of ``mode`` on a plan's candidates (what grading workers run)."""
    if mode == "qwen":
        return any(qwen.qwen_equal(p, g, symbolic=True) for p, g in candidates)
    if mode == "math_verify":
        return any(plain_math_verify(p, g, signal_timeout) for p, g in candidates)
    return math_verify_equal(candidates, signal_timeout=signal_timeout)


def plain_math_verify(pred: str, gold: str, signal_timeout: int | None) -> bool:
    """``verify(parse("$gold$"), parse(output))``, as other reports run math-verify.

    A model output (delimiters, a box, or prose) is parsed as it is. A bare answer is
    wrapped in ``$...$`` first, as the gold is: unwrapped, ``parse`` misses most LaTeX
    and reads ``10, 4, -2`` as its last number; when that finds nothing the bare answer
    is parsed as it is.
    """
    parse, verify = _math_verify()
    gold_parsed = parse(gold if _delimited(gold) else f"${gold}$", parsing_timeout=signal_timeout)
    bare = not _delimited(pred) and not is_prose(pred)
    pred_parsed = parse(f"${pred}$" if bare else pred, parsing_timeout=signal_timeout)
    if not pred_parsed and bare:
        pred_parsed = parse(pred, parsing_timeout=signal_timeout)
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=signal_timeout))


def _delimited(text: str) -> bool:
    return "$" in text or "\\(" in text or "\\[" in text or "\\boxed" in text


def math_verify_equal(candidates: tuple[tuple[str, str], ...], *, signal_timeout: int | None = None) -> bool:
    """math-verify on the cleaned readings; True if any reading verifies.

    Each side is wrapped in ``\\boxed{}`` (bare LaTeX is often not recognised by
    ``parse``); top-level lists are compared element by element. ``signal_timeout=None``
    disables math-verify's SIGALRM timeouts, which is required outside the main thread;
    the caller must then bound the time itself.
    """
    return any(_verify_reading(pred, gold, signal_timeout) for pred, gold in candidates)


def _verify_reading(pred: str, gold: str, signal_timeout: int | None) -> bool:
    pred_parts, gold_parts = _list_parts(pred), _list_parts(gold)
    if len(gold_parts) >= 2 and len(pred_parts) == len(gold_parts):
        return _verify_lists(pred_parts, gold_parts, signal_timeout)
    return _verify_one(pred, gold, signal_timeout)


def _same_lhs_rhs(pred: str, gold: str) -> tuple[str, str] | None:
    """``(rhs_pred, rhs_gold)`` when both are ``L = ...`` with the very same ``L``.

    Then the equations are equal exactly when the right-hand sides are, and comparing
    those avoids two math-verify false positives: ``I_p = ...`` (read as the imaginary
    unit, any two such equations compare equal) and ``y = c_1 M ...`` with matrices.
    """
    pred_sides, gold_sides = split_top_level(pred, "="), split_top_level(gold, "=")
    if len(pred_sides) != 2 or len(gold_sides) != 2:
        return None
    if "".join(pred_sides[0].split()) != "".join(gold_sides[0].split()) or not pred_sides[0].strip():
        return None
    if pred_sides[0].rstrip()[-1:] in "<>!\\:" or pred_sides[1].lstrip()[:1] in "<>=":
        return None  # <=, >=, !=, :=, == are not assignments
    return pred_sides[1].strip(), gold_sides[1].strip()


_APPROX = re.compile(r"\\approx(?![A-Za-z])")


def _verify_one(pred: str, gold: str, signal_timeout: int | None) -> bool:
    """One element; ``A \\approx B`` is split because math-verify reads only ``A``."""
    pred_parts = [p for p in _APPROX.split(pred) if p.strip()] or [pred]
    gold_parts = [g for g in _APPROX.split(gold) if g.strip()] or [gold]
    if len(pred_parts) == len(gold_parts) > 1:
        return all(_verify_atom(p, g, signal_timeout) for p, g in zip(pred_parts, gold_parts))
    if len(pred_parts) > 1 or len(gold_parts) > 1:
        # One side gives an exact value and an approximation: either may match.
        return any(_verify_atom(p, g, signal_timeout) for p in pred_parts for g in gold_parts)
    return _verify_atom(pred, gold, signal_timeout)


def _verify_atom(pred: str, gold: str, signal_timeout: int | None) -> bool:
    rhs = _same_lhs_rhs(pred, gold)
    if rhs is not None and all(rhs):
        pred, gold = rhs
    parse, verify = _math_verify()
    gold_parsed = parse(_as_boxed(gold), parsing_timeout=signal_timeout)
    if not gold_parsed:
        return False
    pred_parsed = parse(_as_boxed(pred), parsing_timeout=signal_timeout)
    return bool(pred_parsed) and bool(verify(gold_parsed, pred_parsed, timeout_seconds=signal_timeout))


def _as_boxed(answer: str) -> str:
    """``\\boxed{answer}``: math-verify's highest-priority pattern, so it stops at the
    first extraction attempt (about 40% faster on CollegeMath than ``$answer$``). It
    does not read ``\\%`` inside a box; the percent sign is dropped, which is how
    math-verify compares percentages anyway (30\\% = 30).
    """
    return "\\boxed{" + answer.replace("\\%", "") + "}"


def _list_parts(answer: str) -> list[str]:
    """Top-level comma-separated elements (of a ``\\{...\\}`` set literal too)."""
    if answer.startswith("\\{") and answer.endswith("\\}"):
        answer = answer[2:-2]
    return [part.strip() for part in split_top_level(answer) if part.strip()]


def _verify_lists(pred_parts: list[str], gold_parts: list[str], signal_timeout: int | None) -> bool:
    """Unordered element-by-element match; every gold element needs its own partner.

    math-verify parses a whole list in one go and, on lists it cannot read, falls back
    to a fragment: "x=0, x=\\pm 2\\sqrt{2}" parses as 2 and "-2,3,1 \\pm ..." as -2.3, so
    two different lists compare equal. Element by element it reads each part properly.
    """
    unused = list(range(len(pred_parts)))
    for gold in gold_parts:
        match = next((j for j in unused if _verify_one(pred_parts[j], gold, signal_timeout)), None)
        if match is None:
            return False
        unused.remove(match)
    return True


_MV: tuple | None = None


def _math_verify():
    """Import math-verify on first use: it costs about 0.5 s (sympy, ANTLR)."""
    global _MV
    if _MV is None:
        from math_verify import parse, verify

        for name in ("math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).addFilter(_DropTimeoutDisabledWarning())
        _MV = (parse, verify)
    return _MV


class _DropTimeoutDisabledWarning(logging.Filter):
    """math-verify warns once per process that its timeout is off; here that is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout is disabled")
