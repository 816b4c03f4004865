"""How numbers and tables are written, in the notebooks and in the note alike.

Percentages with one decimal, differences in points with an explicit sign (and no "-0.0"),
p-values with three significant digits, other floats with three significant digits, tables with
their text in full (pandas would cut it) and their columns formatted by kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd


def pct(v: float | None, digits: int = 1) -> str:
    """``0.9123`` -> ``91.2%``; None or NaN -> ``—``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{100 * v:.{digits}f}%"


def interval(v: float, low: float, high: float, percent: bool = True) -> str:
    """``91.2% (87.0–94.8%)`` or, for a score, ``0.912 (0.870–0.948)``."""
    if percent:
        return f"{pct(v)} ({100 * low:.1f}–{pct(high)})"
    if all(0 <= x <= 1 for x in (v, low, high)):  # scores: the same three decimals throughout
        return f"{v:.3f} ({low:.3f}–{high:.3f})"
    return f"{sig(v)} ({sig(low)}–{sig(high)})"


def points(d: float, digits: int = 1) -> str:
    """A difference of proportions in points, with its sign: ``+3.2``, ``−1.0``, ``0.0``."""
    v = round(100 * d, digits)
    if v == 0:
        return f"{0:.{digits}f}"
    return f"{'+' if v > 0 else '−'}{abs(v):.{digits}f}"


def points_interval(d: float, low: float, high: float) -> str:
    """``+3.2 points (−1.0 to +7.5)``."""
    return f"{points(d)} points ({points(low)} to {points(high)})"


def pvalue(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3g}"


def sig(v: float | None, digits: int = 3) -> str:
    """Three significant digits (integers stay integers)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1):
        return f"{int(v):,}"
    return f"{v:.{digits}g}"


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds: ``0.0034`` -> ``3.4 ms``."""
    if seconds is None:
        return "—"
    value = 1000 * seconds
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def seconds(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


def upper_first(text: str) -> str:
    """``text`` with its first letter upper case, the rest as it is (names keep their case)."""
    return text[:1].upper() + text[1:]


def listing(items: Iterable[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 image``, ``3 images`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def table(
    df: pd.DataFrame,
    percent: Iterable[str] = (),
    pvalues: Iterable[str] = (),
    signed: Iterable[str] = (),
    counts: Iterable[str] = (),
) -> pd.DataFrame:
    """A copy of ``df`` with its columns written for reading: ``percent`` as percentages,
    ``pvalues`` as p-values, ``signed`` as signed points, ``counts`` as integers, every other
    float with three significant digits; text is left whole."""
    out = df.copy()
    percent, pvalues, signed, counts = set(percent), set(pvalues), set(signed), set(counts)
    for col in out.columns:
        values = out[col]
        if col in percent:
            out[col] = [pct(v) if _number(v) else _blank(v) for v in values]
        elif col in pvalues:
            out[col] = [pvalue(v) if _number(v) else _blank(v) for v in values]
        elif col in signed:
            out[col] = [points(v) if _number(v) else _blank(v) for v in values]
        elif col in counts:
            out[col] = [f"{int(v):,}" if _number(v) else _blank(v) for v in values]
        elif all(_number(v) or _missing(v) for v in values) and any(
            isinstance(v, float) for v in values
        ):
            out[col] = [sig(float(v)) if _number(v) else "—" for v in values]
    return out


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not _missing(v)


def _blank(v) -> str:
    return "—" if _missing(v) else str(v)


def setup_display() -> None:
    """pandas shows text whole and wide tables without wrapping them into pieces."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 200)
    pd.set_option("display.precision", 3)


def markdown_table(df: pd.DataFrame) -> str:
    """A Markdown table (index as the first column), cells written as they are."""
    head = "| | " + " | ".join(map(str, df.columns)) + " |"
    sep = "|---" * (len(df.columns) + 1) + "|"
    rows = [
        "| " + str(i) + " | " + " | ".join("" if v is None else str(v) for v in r) + " |"
        for i, r in zip(df.index, df.to_numpy())
    ]
    return "\n".join([head, sep, *rows]) + "\n"
