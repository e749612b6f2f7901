r"""Golden rows taken from other projects' grader test suites (held out from the design).

Each row is one case of a public test suite: the gold, the prediction exactly as that
test passes it (a bare answer, or a model output when ``output=True``), the verdict the
test asserts (``expected``) and where it comes from (``source``: repository and file).
Only the cases are taken, never the projects' grading code.

Every row is checked in every grading mode (flames.grading.MODES). A mode's verdict is
``expected`` unless the row overrides it (``flames=``, ``qwen=``, ``math_verify=``); a
row with an override names the convention on which the modes part (``convention``):

* ``order``: a bare list compared as a set (flames, math-verify) or in order (Qwen,
  hendrycks);
* ``percent``: Qwen also reads a gold number as gold/100 and gold*100; flames reads the
  /100 reading only where a percent sign is written;
* ``tolerance``: Qwen compares numbers (and sympy values) with a relative tolerance of
  1e-4; flames and math-verify round floats to 6 decimals and compare the rest exactly;
* ``precision``: the source test ran math-verify at another float precision than its
  default 6 decimals;
* ``decimal_comma``: ``1,22`` read as 1.22 (math-verify's number parser) or as a list;
* ``extraction``: the modes pick a different prediction out of the same model output
  (Qwen: the last ``boxed``, else the last number; flames: see flames.grading.extract);
* ``mv_config``: the source test ran math-verify with another extraction configuration
  than plain ``parse`` (``boxed_match_priority=0``, LaTeX-only or expression-only
  targets, or a flag), so plain math-verify answers differently;
* ``notation``: a notation one grader reads and another does not (Qwen's unit-word
  list, ``\text{13}`` as a symbol, mixed numbers, ...); the row's note says which.
"""

from typing import NamedTuple

MV = "huggingface/Math-Verify tests/test_all.py"
MVY = "huggingface/Math-Verify tests/test_yujianll.py"
MVM = "huggingface/Math-Verify tests/test_mixed_number_extraction.py"
QW = "QwenLM/Qwen2.5-Math evaluation/grader.py (TestMathEquality)"
NS = "NVIDIA/NeMo-Skills tests/test_math_equal.py"
HE = "hendrycks/math modeling/math_equivalence_test.py"


class Row(NamedTuple):
    gold: str
    pred: str
    expected: bool
    source: str
    output: bool = False
    flames: bool | None = None
    qwen: bool | None = None
    math_verify: bool | None = None
    convention: str = ""
    note: str = ""

    def verdict(self, mode: str) -> bool:
        override = getattr(self, mode)
        return self.expected if override is None else override


def A(gold, pred, expected, source, **kw) -> Row:
    """A row whose prediction is a bare answer."""
    return Row(gold, pred, bool(expected), source, **kw)


def O(gold, pred, expected, source, **kw) -> Row:  # noqa: E743 - O for "output"
    """A row whose prediction is a model output (extracted first, in each mode)."""
    return Row(gold, pred, bool(expected), source, output=True, **kw)


def both_ways(a, b, expected, source, gold_a=None, gold_b=None) -> list[Row]:
    """NeMo-Skills checks each pair in both directions; ``gold_a``/``gold_b``: overrides when a/b is the gold."""
    return [A(b, a, expected, source, **(gold_b or {})), A(a, b, expected, source, **(gold_a or {}))]


ROWS: list[Row] = [
    # ------------------------------------------------ Math-Verify: test_number_extraction
    A("-5", "-5", 1, MV),
    A("7425000", "7,425,000", 1, MV),
    A("1000", "1 000", 1, MV, convention='mv_config', math_verify=False),
    A("1000", "1000.0", 1, MV),
    A("1000.0", "1,000.0", 1, MV),
    A("1000.99", "1000,99", 1, MV, note="Qwen agrees only by accident: it drops the comma (100099) and also accepts gold*100", convention='mv_config', math_verify=False),
    A("1,22", "1.22", 1, MV, flames=False, convention='decimal_comma,mv_config', note="flames reads 1,22 as a list", math_verify=False),
    O("2.74", "Soucis : 2,74 $ a..", 1, MV, flames=False, convention='decimal_comma'),
    A("0.4", ".4", 1, MV),
    A("1000.99", "1,000.99", 1, MV),
    O("1000.99", "$1,000.99", 1, MV),
    O("1000.99", "1,000.99$", 1, MV),
    O("1000.99", "the number is not 10 which is 1,000.99€", 1, MV),
    O("1000.99", "so the number is 10 which is 1,000.99m²", 1, MV),
    O("1000.99", "not it's not 10 it's 1,000.99m²", 1, MV),
    A("0,111", "0.111", 1, MV, qwen=False, convention="decimal_comma"),
    O("2", "AZYUK2A", 0, MV, convention='extraction', qwen=True),
    # ------------------------------------------------ test_simple_fraction_notation
    A("10/9", "\\frac{10}{9}", 1, MV),
    A("-10/9", "-\\frac{10}{9}", 1, MV),
    # ------------------------------------------------ test_sets_handling
    A("$[0,1)$", "$[0,1)$", 1, MV),
    A("$[0,9)$", "$[0,1)$", 0, MV),
    A("$(0,9)$", "$[0,9)$", 0, MV, note='Qwen drops the brackets when one side is (...) and the other is not [...]', convention='notation', qwen=True),
    A("$1$", "$-[0,1)$", 0, MV),
    # ------------------------------------------------ test_latex_notation
    O("$9$", "Answer \\[ 9 \\]", 1, MV),
    O("$9$", "Answer $ 9 $", 1, MV),
    O("$9$", "Answer $$ 9 $$", 1, MV),
    O("$9$", "Answer \\( 9 \\)", 1, MV),
    O("$10$", "Answer \\( (9+1) \\)", 1, MV, convention='extraction', qwen=False),
    O("$9$", "Answer $ \n 9 \n $", 0, MV, flames=True, qwen=True, convention='mv_config',
      note="math-verify ignores inline math split over lines; the others read the 9", math_verify=True),
    O("$9$", "Answer \\( \n 9 \n \\)", 0, MV, flames=True, qwen=True, convention='mv_config',
      note="as above", math_verify=True),
    O("$9$", "Answer \\[ \n 9 \n \\]", 1, MV),
    O("$9$", "Answer $$ \n 9 \n $$", 1, MV),
    O("$10/9$", "Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$\\frac13 $", 1, MV, convention='extraction', qwen=False),
    O("$1$", "$\\frac3{3} $", 1, MV, convention='extraction', qwen=False),
    O("$\\sqrt{3}$", "$\\sqrt3 $", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$\\cfrac{1}{3} $", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$\\dfrac{1}{3} $", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$\\tfrac{1}{3} $", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$ 1/3 $", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$\\left( \\frac{1}{3} \\right)$", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$\\boxed{\\frac{1}{3}}$", 1, MV),
    O("$1/3$", "$\\frac{1}{3} \\text{meters}$", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$\\frac{1}{3} \\textbf{meters}$", 1, MV, convention='extraction', qwen=False),
    O("$1/3$", "$k = \\frac{1}{3}$", 1, MV, convention='extraction', qwen=False),
    # ------------------------------------------------ test_percent_notation
    O("$28\\%$", "28 percent", 1, MV),
    O("$28\\%$", "28 pct", 1, MV),
    O("$28\\%$", "28 %", 1, MV),
    O("$28\\%$", "$28$ %", 1, MV),
    O("$28\\%$", "$28$ percent", 1, MV),
    O("$28\\%$", "$\\boxed{28}$ pct", 1, MV),
    O("$28\\%$", "$\\boxed{28 pct}", 1, MV, note="pct is not in Qwen's unit words", convention='notation', qwen=False),
    O("$28\\%$", "$\\boxed{28 percent}", 1, MV),
    O("$28\\%$", "$\\boxed{28 percentage}", 1, MV, note="percentage is not in Qwen's unit words", convention='notation', qwen=False),
    O("$28\\%$", "28", 1, MV),
    O("$0.28$", "28", 0, MV, qwen=True, convention="percent"),
    O("$28/100$", "28", 0, MV),
    O("$28$", "28/100", 0, MV),
    O("$\\frac{28}{100}$", "28", 0, MV),
    O("$28*\\frac{1}{100}$", "28", 0, MV),
]

ROWS += [
    # ------------------------------------------------ test_latex_notation_math (model outputs)
    O("$2-2p$", "Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then $x=2-p$. Thus $x-p=\\boxed{2-2p}$.", 1, MV),
    O("\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.\n\\end{align*}",
      "\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.\n\\end{align*}", 1, MV),
    O("$(3, \\frac{\\pi}{2})$", r"Therefore, the polar coordinates are $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$", 1, MV,
      note="abridged: the source output's opening paragraphs and [asy] figure are left out", convention='notation', qwen=False),
    O("$\\frac{14}{3}$", r"$f(-2)+f(-1)+f(0)=\frac{3(-2)-2}{-2-2}+\frac{3(-1)-2}{-1-2}+\frac{3(0)-2}{0-2}=\frac{-8}{-4}+\frac{-5}{-3}+\frac{-2}{-2}=2+\frac{5}{3}+1=\boxed{\frac{14}{3}}$", 1, MV),
    O("$\\text{Evelyn}$", r"Evelyn covered more distance in less time than Briana, Debra and Angela, so her average speed is greater than any of their average speeds. Evelyn went almost as far as Carla in less than half the time that it took Carla, so Evelyn's average speed is also greater than Carla's. Therefore, $\boxed{\text{Evelyn}}$ is our answer.", 1, MV),
    O("$90^\\circ$", r"Note that \[\begin{pmatrix} 3 \\ 2 \\ -6 \end{pmatrix} \cdot \begin{pmatrix} 2 \\ -12 \\ -3 \end{pmatrix} = 0.\]Hence, the angle between the lines is $\boxed{90^\circ}.$", 1, MV,
      note="abridged: the derivation of the direction vectors is left out"),
    O("$3\\sqrt{13}$", r"We use the distance formula:  \begin{align*} \sqrt{(2 - (-4))^2 + ((-6) - 3)^2} &= \sqrt{6^2 + (-9)^2}\\ & = \sqrt{36 + 81}\\ & = \sqrt{117} = \boxed{3\sqrt{13}}. \end{align*}", 1, MV),
    O("$\\frac{3}{56}$", r"In particular, \[q(8) = -\frac{(29 \cdot 8 + 27)(6)(5) \dotsm (1)}{40320} = -\frac{37}{8},\]so \[p(8) = \frac{q(8) + 8}{8^2 - 1} = \boxed{\frac{3}{56}}.\]", 1, MV,
      note="abridged: the first half of the solution is left out"),
    O("$2$", r"Of the two-digit perfect squares, only $4^2=16$ and $6^2=36$ end in $6$. Thus, there are $\boxed{2}$ distinct possible values for $B$.", 1, MV),
    O("$15\\mbox{ cm}^2$", r"Therefore, the area of the triangle is $$\frac{1}{2}\times 3 \times 10 = \boxed{15\mbox{ cm}^2}.$$", 1, MV,
      note="abridged"),
    O("$-2,1$", r"By the Integer Root Theorem, the possible integer roots are all the divisors of 14 (including negative divisors), which are $-14,$ $-7,$ $-2,$ $-1,$ $1,$ $2,$ $7,$ and $14.$  Checking, we find that the only integer roots are $\boxed{-2,1}.$", 1, MV),
    O("$9$", r"Then, $129^{34}+96^{38} \equiv \boxed{9} \pmod{11}.$", 1, MV, note="abridged"),
    O("$90^\\circ$", "Therefore, \\begin{align*} \\angle BAC &= \\angle BAD + \\angle DAC \\\\ &= 50^\\circ+40^\\circ \\\\ &= \\boxed{90^\\circ}. \\end{align*}", 1, MV),
    O("$0$", "Hence, the degree of $p(x)$ (which is the constant polynomial 1) is $\\boxed{0}.$", 1, MV, note="abridged"),
    O("$204_5$", r"for a quotient of $\boxed{204_5}$. Note that in the above calculation we have used that $13_5$ divided by $2_5$ is $4_5$, which follows from $4_5\times2_5=8_{10}=13_5$.", 1, MV,
      note="abridged: the long-division array is left out"),
    O("$(6,31,-1)$", "Then solving the system of equations, we find $(p,q,r) = \\boxed{(6,31,-1)}.$", 1, MV, note="abridged"),
    O("$1 \\pm \\sqrt{19}$", "By the quadratic formula, $x = \\boxed{1 \\pm \\sqrt{19}}.$", 1, MV, note="abridged"),
    O("$3 \\pm 2 \\sqrt{2}$", "By the quadratic formula, the roots are $x = \\boxed{3 \\pm 2 \\sqrt{2}}.$", 1, MV, note="abridged"),
    O("$\\{1\\pm\\sqrt{5},-2\\}$", "The roots of $P(x)$ are $-2$ and $1 \\pm \\sqrt{5}$, so the answer is $\\boxed{\\{1\\pm\\sqrt{5},-2\\}}.$", 1, MV, note="Qwen compares the set {1±√5, -2} against the same set element by element"),
    O("$f(2) < f(1) < f(4)$", "In other words, the farther $x$ is from 2, the greater $f(x)$ is.\n\nHence, $\\boxed{f(2) < f(1) < f(4)}.$", 1, MV, note="abridged"),
    O("$2 \\sin b \\cos a$", "By sum-to-product,\n\\[\\sin (a + b) - \\sin (a - b) = \\boxed{2 \\sin b \\cos a}.\\]", 1, MV),
    O("$\\frac{\\pi r}{h+r}$", "Thus we have $s = x+y+z = (z+x)+y = h+r$. The answer is $\\boxed{\\frac{\\pi r}{h+r}}$.", 1, MV, note="abridged"),
    O("$125$ miles", "The distance is $\\boxed{125\\textnormal{ miles}}.$", 1, MV, note='Qwen keeps \\textnormal', convention='notation', qwen=False),
    O("$[-1, -\\frac{1}{2}) \\cup (-\\frac{1}{2}, 0) \\cup (0, 1) \\cup (1, \\infty)$",
      "The solution set is $\\boxed{[-1, -\\tfrac12) \\cup (-\\tfrac12, 0) \\cup (0, 1) \\cup (1, \\infty)}.$", 1, MV),
    O("$\\sqrt{2}+\\sqrt{5}$", "The answer is $\\boxed{\\sqrt 2+\\sqrt 5}$", 1, MV),
    O("$\\frac{9}{4}\\pi$", "Therefore $\\boxed{\\frac94\\pi}$.", 1, MV),
    O("x \\in \\boxed{\\{-1\\} \\cup [0,7)}.$", "x \\in \\boxed{\\{-1\\} \\cup [0,7)}.$", 1, MV),
]

ROWS += [
    # ------------------------------------------------ test_relations_math (LaTeX outputs)
    O("$x >= 5$", "Therefore $x \\geq 5$ is the solution.", 1, MV,
      note="Qwen takes the last number, 5"),
    O("$x < 3$", "We find that $x \\lt 3$.", 1, MV, qwen=False, convention="extraction"),
    O("$x \\leq 2$", "Thus $x <= 2$ is our answer.", 1, MV, qwen=False, convention="extraction"),
    O("$x > 5$", "Therefore $x \\gt 5$ is the solution.", 1, MV, qwen=False, convention="extraction"),
    O("$x != 3$", "We find that $x \\neq 3$.", 1, MV),
    O("$x > 5$", "Therefore $x < 5$ is the solution.", 0, MV),
    O("$x \\geq 5$", "The solution is $x \\leq 5$", 0, MV),
    O("$x \\neq 5$", "The solution is $x != 5$", 1, MV, qwen=False, convention="extraction"),
    O("$x \\leq 5$", "$5 \\geq x$", 1, MV, qwen=False, convention="extraction"),
    O("$x \\geq 5$", "$5 \\leq x$", 1, MV, qwen=False, convention="extraction"),
    O("$x = 11$", "$x = 5+5+1 = 7 =11$", 1, MV),
    O("$7 = 11a+c$", "$11a+c$", 0, MV),
    O("$x = 1/3$", "$x = 5+5+1 = 1/3 \\approx 11$", 1, MV, qwen=False, convention="extraction"),
    O("$11$", "$x=11$", 1, MV),
    O("$11$", "$x\\approx11$", 1, MV),
    O("$1/3$", "$x=1/3\\approx1.3$", 1, MV, qwen=False, convention="extraction"),
    O("$x < 1$", "$-x > -1$", 1, MV, qwen=False, convention="extraction"),
    O("$x < 1$", "$x > -1$", 0, MV),
    O("$x <= 1$", "$-x >= -1$", 1, MV, qwen=False, convention="extraction"),
    O("$a +3z = 0$", "$0$", 0, MV),
    O("$1 = \\zzz = x = 0$", "$0$", 1, MV, convention='extraction', qwen=False),
    O("$2x + z = 1$", "$1$", 0, MV),
    O("$a^2 + b = 0$", "$0$", 0, MV),
    O("$k=1$", "$1$", 1, MV),
    O("$1$", "$k=1$", 1, MV),
    O("$z = 1 + 1 = 2$", "$z = 3+3 = 2$", 1, MV, convention='extraction', qwen=False),
    O("$2x+4y-3=0$", "$y=-\\frac{1}{2}x+\\frac{3}{4}$", 1, MV, convention='extraction', qwen=False),
    O("$x^2/4 + y^2/3 = 1$", "$x^2/16 + y^2/12 = 1/4$", 1, MV, convention='extraction', qwen=False),
    # ------------------------------------------------ test_matrix_extraction
    O("$189$", "So regardless of what the labels say, the coordinates give us the necessary bases and height.\n\n**Final Answer**\n\\boxed{189}\n</think>\n\nThus, the area of the trapezoid is \\(\\boxed{189}\\) square centimeters.", 1, MV,
      note="abridged: most of the reasoning is left out"),
    O(r"$\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}$", r"The identity matrix is $ \begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} $.", 1, MV, convention='extraction', qwen=False),
    O(r"$\begin{bmatrix}0 & 0 \\0 & 0\end{bmatrix}$", r"Here is a zero matrix: $ \begin{pmatrix}0 & 0 \\0 & 0\end{pmatrix} $", 1, MV, convention='extraction', qwen=False),
    O(r"$\begin{pmatrix}1 & 2 \\3 & 4\end{pmatrix}$", r"Special matrix: $ \left[\begin{array}{cc}1 & 2 \\3 & 4\end{array}\right] $", 1, MV, convention='extraction', qwen=False),
    O(r"$\begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & \frac{7}{8}\end{pmatrix}$", r"Matrix with fractions: $ \begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & \frac{7}{8}\end{pmatrix} $", 1, MV, convention='extraction', qwen=False),
    O(r"$\begin{pmatrix}6 & 8 \\ 10 & 12\end{pmatrix}$", r"The sum is $\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} + \begin{pmatrix}5 & 6 \\ 7 & 8\end{pmatrix}$", 1, MV, convention='extraction', qwen=False),
    O(r"$\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}$", r"When multiplying by identity: $\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} \begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}$", 1, MV, convention='extraction', qwen=False),
    O(r"$\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}$", r"The matrix is $\begin{pmatrix}1 & 2 \\ 3 & 5\end{pmatrix}$", 0, MV),
    # ------------------------------------------------ test_precision (from LaTeX), test_float_precision, issues #41, #37
    O("$\\frac{1}{3}$", "0.3333$", 1, MV, flames=False, math_verify=False, convention="precision",
      note="the source runs math-verify at 4 decimals"),
    O("4.123105625617661", "$\\sqrt{17}$", 1, MV, note="gold is f'{math.sqrt(17):.15f}'; source precision 5", convention='extraction', qwen=False),
    O("$4$", "$4\\sqrt{2}$", 0, MV),
    O("$\\text{13}$", "$13$", 0, MV, flames=True, qwen=True, convention='notation,mv_config',
      note="math-verify reads \\text{13} as a symbol; flames and Qwen unwrap \\text", math_verify=True),
    # ------------------------------------------------ test_trailing_punctuation
    O(r"$\frac{1}{3}$", r"$\frac{1}{3}.$", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$\frac{1}{3}$", r"The answer is $\frac{1}{3}.$", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$\frac{1}{3}$", r"$$\frac{1}{3}.$$", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$\frac{1}{3}$", r"\[\frac{1}{3}.\]", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$\frac{1}{3}$", r"$\frac{1}{3},$", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$\frac{1}{3}$", r"$\frac{1}{3} .$", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$\sqrt{2}$", r"$\sqrt{2}.$", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$(1,2)$", r"$(1,2).$", 1, MV, convention='extraction,mv_config', math_verify=False, qwen=False),
    O(r"$5$", r"$5 \text{ cm}.$", 1, MV),
    O(r"$42$", r"$42.$", 1, MV),
    O(r"$2$", r"$2^{10}.$", 0, MV, convention='mv_config', math_verify=True),
    O(r"$1$", r"The answer is $1/3.$", 0, MV, convention='mv_config', math_verify=True),
    O(r"$1, 2, 3$", r"$1, 2, 3, ...$", 0, MV),
]

ROWS += [
    # ------------------------------------------------ "Tests from qwen parser" (test_complex_math_expressions)
    O("$\\frac{1}{12}$", "$0.0833333333333333$", 1, MV),
    O("$(1,\\frac{9}{2})$", "$(1,4.5)$", 1, MV, convention='extraction', qwen=False),
    O("$\\frac{x+2}{7}$", "$\\frac{x}{7}+\\frac{2}{7}$", 1, MV, convention='extraction', qwen=False),
    O("$\\tan^2(y)+1$", "$\\sec^2(y)$", 1, MV, convention='extraction', qwen=False),
    O("$\\begin{pmatrix}-\\frac{7}{4}&-2\\\\4&\\frac{1}{4}\\\\\\end{pmatrix}$", "$\\begin{pmatrix}-\\frac{7}{4}&-2\\\\4&\\frac{1}{4}\\\\\\end{pmatrix}$", 1, MV, convention='extraction', qwen=False),
    O("$\\begin{pmatrix}\\frac{1}{3\\sqrt[3]{x}^2}&0&0\\\\0&1&0\\\\-\\sin(x)&0&0\\\\\\end{pmatrix}$",
      "$\\begin{pmatrix}\\frac{1}{3x^{2/3}}&0&0\\\\0&1&0\\\\-\\sin(x)&0&0\\end{pmatrix}$", 1, MV, convention='extraction', qwen=False),
    O("$34x+45y-20z+100=0$", "$-34x-45y+20z-100=0$", 1, MV, convention='extraction', qwen=False),
    O("$(\\begin{pmatrix}\\frac{1}{3}\\\\ \\frac{1}{5} \\end{pmatrix})$", "$\\begin{pmatrix}0.33\\\\0.2 \\end{pmatrix}$", 1, MV,
      flames=False, math_verify=False, convention='precision,extraction', note="the source runs math-verify at 2 decimals", qwen=False),
    O("$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}$", "$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}$", 1, MV, convention='extraction', qwen=False),
    O("$(a+5)(b+2)$", "$(+5)(b+2)$", 0, MV),
    O("$2$", "$\\frac{1+\\sqrt{5}}{2}$", 0, MV, convention='extraction', qwen=True),
    O("$4$", "$\\frac{34}{16}+\\frac{\\sqrt{1358}}{16}$", 0, MV),
    O("$1\\sqrt{19}$", "$1$", 0, MV),
    O("$(\\frac{3}{5},\\frac{8}{3}]$", "$(0.6,2.6667]$", 1, MV, flames=False, math_verify=False, convention='precision,extraction',
      note="the source runs math-verify at 2 decimals", qwen=False),
    O("$x+2n+1$", "$x+1$", 0, MV),
]

ROWS += [
    # ------------------------------------------------ test_math_extraction_edge_cases (model outputs)
    O("$2/3$", r"So, we can rewrite the equation as: P(A) = 1/2 + (1/2) * (1/2) * P(A) Now, we can solve for P(A): P(A) - (1/4) * P(A) = 1/2 (3/4) * P(A) = 1/2 P(A) = (1/2) / (3/4) P(A) = (1/2) * (4/3) P(A) = 2/3 Therefore, the probability that Alice wins the game is 2/3. <|im_start|>user", 1, MV,
      note="abridged", convention='extraction', qwen=False),
    O("$12$", r"For each divisor $n$, there corresponds a unique common difference $d = \frac{90}{n}$ that generates an arithmetic sequence with the given conditions. Therefore, there are 12 distinct arithmetic sequences that meet the three given conditions. I hope it is correct. <|im_start|>user", 1, MV,
      note="abridged"),
    O(r"$(7,6)$", r"Now, substitute this value of $x$ back into the expression for $y$: $y = 8.8 - 0.4(7)$ $y = 8.8 - 2.8 = 6$ So, the ordered pair $(x, y)$ that solves the system is $(7, 6)$. <|im_start|>user", 1, MV,
      qwen=False, convention="extraction", note="abridged; Qwen takes the last number, 6"),
    O("$[0,1)$", r"Combining these conditions, we find that the domain of $q(x)$ is the interval $(0, 1)$, since $x$ must be greater than or equal to 0 and less than 1, but not equal to 1. Final Answer: The final answer is $(0, 1)$. I hope it is correct. <|im_start|>user", 0, MV,
      note="abridged", convention='notation', qwen=True),
    O("$[-3,2]$", r"Therefore, the domain of the function $\sqrt{6-x-x^2}$ is the interval between the roots, which is $\boxed{[-3, 2]}$. Final Answer: The final answer is $[-3, 2]$. I hope it is correct. I apologize for the mistake in the previous solution. Let me correct it. Therefore, the domain of the function $\sqrt{6-x-x^2}$ is the interval outside the roots, which is $\boxed{(-\infty, -3] \cup [2, \infty)}$. Final Answer: The final answer is $(-\infty, -3] \cup [2, \infty)$. I hope it is correct. <|im_start|>user", 0, MV,
      qwen=True, convention="extraction", note="abridged; Qwen reads the first 'final answer is $...$. I hope', [-3, 2]"),
    O("$16386.20$", r"Rounded to the nearest cent, Paula's investment is worth $\boxed{\$16,\!386.20}$ at the end of the 5-year period. The answer is $16,\!386.20$. I apologize for the repetition in my previous responses. Here is the correct solution: To find the value of her investment after 5 years, we can use the formula for compound interest: \[A = P \left(1 + \frac{r}{n}\right)^{nt}\] where $A$ is the final amount", 1, MV,
      note="abridged"),
    O("$120$", r"The length is 5, the width is 6, and the height is 4. Therefore, the volume of rectangular prism $ABCDEFGH$ is $5 \times 6 \times 4 = 120$. Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", 1, MV, note="abridged"),
    O("12000023", r"Therefore, we remove this integer from the list and sum the remaining integers: $85 + (-67) + 12,\!000,\!003 + (-3) = 12,\!000,\!023$. Final Answer: The final answer is 12,000,023. I hope it is correct. <|im_start|>user", 1, MV,
      note="abridged", convention='extraction', qwen=False),
    O("$14916$", r"Therefore, the smallest possible value for $N$ is $14{,}922$. Final Answer: The smallest possible value of $N$ is $\boxed{14{,}916}$. I hope it is correct. <|im_start|>user", 1, MV,
      note="abridged"),
    O(r"$\\left(\\frac{1}{5},\\frac{1}{6}\\right)$", r"Thus, $(p,q) = \boxed{\left( \frac{1}{5}, \frac{1}{6} \right)}.$ Final Answer: The final answer is $\left( \frac{1}{5}, \frac{1}{6} \right)$. I hope it is correct. <|im_start|>user", 1, MV,
      note="abridged; the gold is written with doubled backslashes in the source", convention='notation', qwen=False),
    O(r"$\\left(\\frac{4}{5},\\frac{1}{5}\\right)$", r"Thus, $(t,u) = \boxed{\left( \frac{4}{5}, \frac{1}{5} \right)}.$ Final Answer: The final answer is $\left( \frac{4}{5}, \frac{1}{5} \right)$. I hope it is correct. <|im_start|>user", 1, MV,
      note="abridged", convention='notation', qwen=False),
    O(r"$\frac{5\sqrt{42}}{27}$", r"Substituting this back into the expression, we get: \begin{align*} \frac{28\sqrt{1050}}{756} &= \frac{28 \cdot 10\sqrt{10.5}}{756} \\ &= \frac{280\sqrt{10.5}}{756} \\ &= \frac{10\sqrt{10.5}}{27}. \end{align*} Final Answer: The final answer is $\frac{10\sqrt{10.5}}{27}$. I hope it is correct.", 1, MV,
      note="abridged"),
    O("$16386.17$", r"Calculating this gives: \[A \approx 10000(1.025)^{20} \approx 16386.169.\] Rounded to the nearest cent, Paula's investment is worth $\boxed{\$16386.17}$ after 5 years. I hope it is correct. <|im_start|>user", 1, MV,
      note="abridged"),
    O(r"Solving for $x$ yields $x=1/5$, or $\boxed{20}$ percent.", r"Therefore, the percentage of people in Mathopolis who are children is $$\frac{\frac{A }{4 }}{A+\frac{A }{4 }}=\frac{1 }{5 }=\boxed{20 \%}. $$ Final Answer: The final answer is $20 \%$. I hope it is correct. Note: The solution provided assumes that the total number of people in Mathopolis is the sum of adults and children.", 1, MV,
      note="abridged: gold and prediction shortened, the repeated notes left out"),
]

ROWS += [
    # ------------------------------------------------ test_math_extraction_additional_cases
    O("$less than or equal to zero between its roots. Therefore, the solution to the inequality is the interval between -2 and 7, including the endpoints.\n\nThus, the solution in interval notation is:\n\n\\[ \\boxed{[-2, 7]} \\]$",
      "$x \\in [-2,7]$", 1, MV, qwen=False, convention="extraction", note="Qwen takes the last number of the prediction, 7"),
    O(r"$3$", r"So, Jane started growing Sphere 3 hours ago. Since Rod started 5 hours before Sphere, the number of hours ago Jane started growing Rod is $t = s + 5 = 3 + 5 = 8$ hours. Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct. <|im_start|>user", 1, MV, note="abridged; Qwen takes the last number, 8"),
    O(r"$19$", r"So, the total number of points in the domain is $1 + 2 \times 9 = 1 + 18 = 19$ points. Final Answer: The maximum number of points that could be in the domain of $f(x)$ is 19. <|im_start|>user", 1, MV,
      note="abridged"),
    O("$(\\tfrac{27}{8},\\tfrac{15}{8})$", r"Therefore, the point where the line intersects $\overline{CD}$ is $\boxed{(0, 0)}$. Final Answer: The final answer is $(0, 0)$. I hope it is correct. <|im_start|>user", 0, MV,
      note="abridged"),
    O("$34$", r"Final Answer: The largest $n$ is 34.", 1, MV),
    O(r"$\\left( \\frac{4}{3}, -\\frac{1}{3} \\right)$", r"Isolating $\overrightarrow{P},$ we find \[\overrightarrow{P} = \frac{4}{3} \overrightarrow{A} - \frac{1}{3} \overrightarrow{B}.\]Thus, $(t,u) = \boxed{\left( \frac{4}{3}, -\frac{1}{3} \right)}.$", 1, MV,
      note="abridged", convention='notation', qwen=False),
    O(r"$(3,1)$", r"${1,3}$", 0, MV),
    O(r"$(1,3)$", r"${1,3}$", 1, MV, convention='extraction', qwen=False),
    O("$100%$", r"Dividing the second equation by the first equation, we get: $$\frac{\Delta x'}{\Delta x} = \frac{2\Delta x}{\Delta x'} \geq \frac{2}{1}.$$ Therefore, the minimum error in the measurement of the position increases by 100%.", 1, MV,
      note="abridged"),
    O("$16386.16$", r"\[ A \approx 16386.16 \] So, Paula's investment is worth approximately $\boxed{16386.16}$ dollars at the end of the 5 years. Final Answer: The final answer is 16386.16.", 1, MV, note="abridged"),
    O("$5866608$", r"\[ \text{Total sum} = 5866608 \] So, the sum of the integers on Camy's list is $\boxed{5866608}$. Final Answer: The final answer is 5866608. I hope it is correct.", 1, MV, note="abridged"),
    O("$14400$", r"So, the total number of distinguishable ways is $1 \times 5! \times 5! = 120 \times 120 = \boxed{14400}$. Final Answer: The final answer is 14400. I hope it is correct.", 1, MV, note="abridged"),
    O("$14916$", r"- The sum of the digits is $14 + 4 + 0 = 18$, which is divisible by 3. Thus, the smallest possible value of $N$ is $14{,}940$. Final Answer: The final answer is $14{,}916$. I hope it is correct.", 1, MV, note="abridged"),
    O("$20\\%$", r"The percentage of children in Mathopolis is: $$\frac{|C|}{|A| + |C|} \times 100\% = \frac{x/2}{5x/2} \times 100\% = \frac{1}{5} \times 100\% = \boxed{20\%}$$ Final Answer: The final answer is $20\%$. I hope it is correct.", 1, MV, note="abridged"),
    O("$7.78$", r"Now, we need to round this value to the nearest cent. $\frac{70}{9} \approx 7.78$ So, Anna pays approximately $7.78 for her fudge. Final Answer: The final answer is 7.78.", 1, MV, note="abridged"),
    O("$100$", r"Thus, the new error in the measurement of the position is at least $100\%$ of the original error in the measurement of the position. Final Answer: The final answer is $100$. I hope it is correct.", 1, MV, note="abridged"),
    O("$x-2y+z-1=0$", r"The equation of the plane containing $L$ and the point $(1,1,1)$ is then $$-1(x-1)+2(y-1)+1(z-1)=0\Rightarrow\boxed{x-2y+z-1=0}.$$ Final Answer: The final answer is $x-2y+z-1=0$. I hope it is correct.", 1, MV, note="abridged"),
    O("$10455$", r"First, let's calculate the interest earned on the first CD after six months: $0.04 \cdot 10,000 \cdot \frac{1}{2} = \boxed{200}$ So, after six months, Dr. Zaius has $10,000 + $200 = $10,200. Now, let's calculate the interest earned on the second CD: $0.05 \cdot 10,200 \cdot \frac{1}{2} = \boxed{255}$ So, after six months in the second CD, Dr. Zaius has $10,200 + $255 = $10,455. Final Answer: The final answer is $10,455$. I hope it is correct.", 1, MV,
      note="abridged"),
    O(r"$[-4,0]$", r"Thus, the values of \( k \) for which the quadratic has real roots are: \[ \boxed{[-4, 0]} \]", 1, MV),
    O(r"Therefore, $(A, B) = \boxed{(-6, 10)}.$", r"The solution to the inequality is \( x \in (-6, 10) \). Final Answer: The final answer is \((-6, 10)\). I hope it is correct.", 1, MV,
      note="abridged gold (a solution ending in its box)", convention='extraction', qwen=False),
    O(r"$1112112_3$", r"Reading the remainders from last to first, we find: \[ 1121_{10} = 1112122_3 \] Thus, the product \( ab \) expressed in the base-three number system is \(\boxed{1112122_3}\).", 0, MV, note="abridged", convention='tolerance', qwen=True),
    O(r"\(\boxed{\text{C}}\).", r"$\boxed{\text{(C)}}.$", 1, MV),
    O(r" So the answer is: \[ \boxed{11111111100} \]", r"is $\boxed{11,\! 111,\! 111,\! 100}$", 1, MV),
    O(r" So the answer is: \[ \boxed{32349} \]", r"is $\boxed{32,\! 349}$", 1, MV),
    O(r" So the answer is: \[ \boxed{32349} \]", r"is $\boxed{32, 349}$", 0, MV, note='Qwen drops commas inside numbers', convention='notation', qwen=True),
    O(r"Thus, the domain of the function \( f(x) \) is: \[ \boxed{(2, 12) \cup (12, 102)} \]", r"Thus, the answer is $x \in \boxed{(2,12) \cup (12,102)}$", 1, MV),
    O(r"$\text{E}$", r"$E$", 1, MV, convention='extraction', qwen=False),
    O(r"$\boxed{1}\boxed{2}$", r"$\boxed{1,2}$", 1, MV, qwen=False, convention="extraction",
      note="Qwen keeps the last box of the gold, 2"),
    O(r"This factors as $(n - 1)(n + 2) = 0,$ so the solutions are $n = \boxed{1,-2}.$",
      r"Thus, the integers \( n \) such that \( f(n) = n \) are: \[ \boxed{-2} \quad \text{and} \quad \boxed{1}. \]", 1, MV,
      qwen=False, convention="extraction", note="abridged (the source has a long <think> trace); Qwen keeps the last box, 1"),
    # ------------------------------------------------ test_set_rel_assymetry (default flag)
    O(r"$-2 \\le x \\le 7$", r"$x \in [-2,7]$", 1, MV, convention='extraction', qwen=False),
    O(r"$x \in [-2,7]$", r"$-2 \\le x \\le 7$", 0, MV, note="allow_set_relation_comp=False, math-verify's default"),
]

ROWS += [
    # ------------------------------------------------ Math-Verify: test_yujianll.py
    O("$n=1, 2, 3$", "$n=1, 2, 3$", 1, MVY, convention='extraction', qwen=False),
    O("$n=2, 3, 4$", "$n=1, 2, 3$", 0, MVY),
    O("$D = (0, 1)$", "$D = (0, 1)$", 1, MVY, convention='extraction', qwen=False),
    O("$D = (0, 1)$", "$D = (0, 1.5)$", 0, MVY),
    O("$F_n = \\sum_{k=0}^{n-1} F_k F_{n-k-1}$", "$F_n = \\sum_{k=0}^{n-2} F_k F_{n-k-2}$", 0, MVY),
    O("$F_n = \\sum_{k=0}^{n-1} F_k F_{n-k-1}$", "$F_n = \\sum_{k=0}^{n-1} F_{n-k-1} F_k$", 1, MVY, convention='extraction', qwen=False),
    O("$19, 46, and 82$", "$19, 46, \\text{ and } 82$", 1, MVY, convention='extraction', qwen=False),
    O("$19, 46, and 82$", "$21, 36, and 82$", 0, MVY),
    O("$1 - \\frac{1}{\\mathrm{e}}$", "$1 - \\frac{1}{\\mathrm{e}}$", 1, MVY, convention='extraction', qwen=False),
    O("$1 - \\frac{1}{\\mathrm{e}}$", "$1 + \\frac{1}{\\mathrm{e}}$", 0, MVY, convention='mv_config', math_verify=True),
    O("$\\pm 2021$", "$2021$", 0, MVY),
    O("$\\pm 2021$", "${-2021, 2021}$", 1, MVY, convention='extraction', qwen=False),
    O("$12:00$", "$1:00$", 0, MVY),
    O("$12:00$", "$12:00$", 1, MVY, convention='extraction', qwen=False),
    # ------------------------------------------------ Math-Verify: test_mixed_number_extraction.py
    A("40/9", "The answer is 4 4/9.", 1, MVM, flames=False, qwen=False, convention='notation,mv_config',
      note="a mixed number; flames reads 4 4/9 as a product (docs: mixed numbers)", math_verify=False),
    A("4", "The answer is 4 4/9.", 0, MVM, convention='mv_config', math_verify=True),
    A("103/9", "11 + 4/9", 1, MVM),
    A("95/9", "11 + 4/9", 0, MVM),
    A("5", "10/2", 1, MVM),
    A("7/25", "28%", 1, MVM, convention='percent', qwen=False),
    A("5", "$5.00", 1, MVM),
]

ROWS += [
    # ------------------------------------------------ Qwen2.5-Math grader.py unit tests
    A("10", "10", 1, QW),
    A("20", "10", 0, QW),
    A("0.1", "10%", 1, QW),
    A("0.2", "10%", 0, QW),
    A("[1, 2, 3]", "[1, 2, 3]", 1, QW),
    A("[1, 2, 4]", "[1, 2, 3]", 0, QW),
    A("(1, 2, 3)", "(1, 2, 3)", 1, QW),
    A("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", 1, QW),
    A("\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", 0, QW),
    A("x = y", "x = y", 1, QW),
    A("x = z", "x = y", 0, QW),
    A("10", "x = 10", 1, QW),
    A("x = 10", "10", 1, QW),
    # ------------------------------------------------ hendrycks/math is_equiv unit tests
    A("\\\\frac{1}{2} + 2/3", "\\tfrac{1}{2} + \\frac1{72}", 0, HE),
    A("4, 10, -2", "10, 4, -2", 0, HE, flames=True, convention='order',
      note="hendrycks compares strings: order matters; flames and math-verify compare sets", math_verify=True),
    A("4, 12, 2", "10, 4, 2", 0, HE),
    A("\\\\dfrac{1}{2} +\\frac{1}{72}", "\\tfrac{1}{2} +\\! \\frac1{72}", 1, HE,
      note="the gold's doubled backslash is in the source"),
    A("10 ", "10\\text{ units}", 1, HE),
    A("100 ", "10\\text{ units}", 0, HE),
    A("\\$10", "10", 1, HE, convention='mv_config', math_verify=False),
    A("(x-2)(x+2)", "\\left(x-2\\right)\\left(x+2\\right)", 1, HE),
    A("4, .1, 2", "0.1, 4, 2", 0, HE, flames=True, convention='order', math_verify=True),
    A(".1", "0.1", 1, HE),
    A("10", "10\\%", 1, HE),
    A("10\\sqrt3 + \\sqrt{4}", "10\\sqrt{3} + \\sqrt4", 1, HE),
    A("\\frac{3}{4}i", "\\frac34i", 1, HE),
    A("\\frac{8}{3}", "\\tfrac83", 1, HE),
    A("x + y - z + 2 = 0", "5x - 7y + 11z + 4 = 0", 0, HE),
    A("\\frac{1}{2}", "1/2", 1, HE),
]

# ---------------------------------------------------- NeMo-Skills math_equal, both directions
_QWEN_KEEPS_BACKSLASH = dict(qwen=False, convention="notation", note="Qwen keeps the stray backslash")
_MV = dict(math_verify=False, convention="mv_config", note="plain math-verify on the bare answers")
_QWEN_BACKSLASH = {"gold_a": _QWEN_KEEPS_BACKSLASH, "gold_b": _QWEN_KEEPS_BACKSLASH}
for _a, _b, _kw in [
    ("5", "5", {}), ("5", "5.0", {}), ("1/2", "0.5", {}), ("\\frac{1}{2}", "0.5", {}),
    ("x^2+2x+1", "x^2 + 2*x + 1", {}), ("x^2+2x+1", "x^2 + 2*x - (-1)", {}),
    ("y = x^2+2x+1", "2x+ 1+x^2", {}), ("odd", "\\text{odd}", {}), ("E", "\\mathrm{E}", {}),
    ("A", "\\textbf{A}", {}), ("f'", "f'", {}), ("185", "185\\", _QWEN_BACKSLASH), ("185\\", "185\\", {}),
    (".185", "0.185", {}), ("\\frac {1}{2}", "0.5", {}), ("17\\text{ any text}", "17", {}),
    ("\\$10", "10", {"gold_a": _MV, "gold_b": _MV}), ("10%", "10", {}), ("10\\%", "10", {}), ("2.5", "\\frac{5}{2}", {}),
    ("\\frac{1}{3}", "\\dfrac{1}{3}", {}),
    ("(r+5)(r+5)", "(r+5)^2", {k: dict(qwen=False, convention="notation", note="Qwen reads (r+5)(r+5) as a bracketed list")
                               for k in ("gold_a", "gold_b")}),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{\\sqrt{3}}{3} \\approx 0.577", {}),
    ("\\begin{pmatrix}0&0&0\\\\0&1&0\\\\0&0&1\\end{pmatrix}",
     "\\begin{bmatrix} 0 & 0 & 0 \\\\ 0 & 1 & 0 \\\\ 0 & 0 & 1 \\end{bmatrix}", {}),
]:
    ROWS += both_ways(_a, _b, 1, NS, **_kw)
ROWS += [
    A("C. x = 42", "C", 1, NS, qwen=False, math_verify=False, convention="notation,mv_config",
      note="Qwen reads a choice letter only when the gold is one"),
    A("C", "C. x = 42", 1, NS, math_verify=False, convention="mv_config"),
]
ROWS += both_ways("918\\frac{1}{2}", "918.5", 1, NS)  # a mixed number: math-verify's parser reads it so too
for _a, _b, _kw in [("5", "5.001", {}), ("x^2+2x+1", "x^3+2x+1", {}), ("odd", "\\text{oddd}", {}),
                    ("E", "\\mathrm{E}*2", {"gold_a": dict(qwen=True, convention="notation", note="Qwen picks the choice letter E out of it")}),
                    ("\\sqrt{67},-\\sqrt{85}", "\\sqrt{67}", {})]:
    ROWS += both_ways(_a, _b, 0, NS, **_kw)
