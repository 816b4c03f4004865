"""The template section and the summary's limit on the template: what the text candidates read
besides the product (the catalogue's template phrases, ``explanations.template``), and the accuracy
a catalogue written without them would give."""

from __future__ import annotations

from ...explain.template import losses as _losses
from ...explain.template import pulls as _pulls
from ..formatting import listing, pct, plural, points, points_interval, upper_first
from .common import _fig, _section


def _verdict(r: dict, short: bool = False) -> str:
    """What the paired interval says about the difference (without minus with); ``short``: the
    summary's words."""
    side = "lower" if r["difference_high"] < 0 else "higher" if r["difference_low"] > 0 else None
    if side is None:
        return "not resolved" if short else "not resolved: the interval includes zero"
    if short:
        return f"{side} without them"
    return f"{side} without the template: the interval excludes zero"


def _errors(r: dict) -> str:
    return (
        f"test errors go from {r['errors']} to {r['errors_without']} "
        f"({plural(r['newly_wrong'], 'product')} newly wrong, {r['newly_right']} newly right)"
    )


def candidate_sentence(name: str, r: dict) -> str:
    """One candidate's accuracy with and without the template, its interval and what changes."""
    lost = _losses(r)
    where = (
        "; the categories whose recall falls most: "
        + listing(f"{c} ({points(d)} points)" for c, d in lost)
        if lost
        else "; no category's recall falls"
    )
    drawn = _pulls(r)[:2]
    if drawn:
        moves = listing(f"{c} ({a} with the template, {b} without)" for c, a, b in drawn)
        where += f"; other categories' test products predicted as {moves}"
    return (
        f"`{name}`: accuracy {pct(r['accuracy'])} on the full text, {pct(r['accuracy_without'])} "
        f"without the template phrases, a difference of "
        f"{points_interval(r['difference'], r['difference_low'], r['difference_high'])}, "
        f"{_verdict(r)}; {_errors(r)}{where}."
    )


def template_line(shown: list[str], records: dict) -> str:
    """Notebook 06's line under the template figure."""
    if not records:
        return "*Nothing to show here: no candidate that reads text ran.*"
    first = next(iter(records.values()))
    found = (
        f"The rule found {plural(len(shown), 'template phrase')} on the training text; removing "
        f"them changes {pct(first['test_texts_changed'], 0)} of the test texts."
        if shown
        else "The rule found no template phrase on the training text: the texts are unchanged."
    )
    return found + " " + " ".join(candidate_sentence(n, r) for n, r in records.items())


def _phrase_facts(r: dict, k: int = 3) -> str:
    """The most present phrases with their highest and lowest category rates."""
    parts = []
    for p in (r.get("phrases") or [])[:k]:
        rates = p["rate"]
        hi = max(rates, key=rates.get)
        lo = min(rates, key=rates.get)
        parts.append(
            f"“{p['phrase']}” (in {pct(rates[hi], 0)} of the training products of {hi}, "
            f"{pct(rates[lo], 0)} of those of {lo})"
        )
    return listing(parts)


def _shortest(removed: list[str], n: int = 3) -> str:
    """The ``n`` shortest of the removed n-grams, quoted: the generic ones a reader should see."""
    return listing(f"“{p}”" for p in sorted(removed, key=lambda p: (len(p), p))[:n])


def section_template(m: dict) -> str:
    """The template section: the template phrases, their rates per category, and each text
    candidate's accuracy without them."""
    records = (m.get("explanations") or {}).get("template") or {}
    if not records:
        return "No candidate that reads text ran, so the template phrases were not measured.\n"
    first = next(iter(records.values()))
    rule = first["rule"]
    phrases = first.get("phrases") or []
    removed = first.get("removed") or [p["phrase"] for p in phrases]
    out = (
        "Part of each description is written by the marketplace, not about the product (sales "
        "lines such as “only genuine products” and the spec sheet's headings such as “sales "
        "package”), and each category's listings use that template at their own rate. The "
        "template phrases are found on the training text alone: word n-grams of "
        f"{rule['min_words']} to {rule['max_words']} words present in at least "
        f"{pct(rule['min_share'], 0)} of the products of at least "
        f"{plural(rule['min_categories'], 'category', 'categories')}, with the highest category "
        f"rate at least {rule['min_ratio']:g} times the lowest. "
    )
    if phrases:
        out += (
            "Joined where they occur in nearly the same products (Jaccard ≥ "
            f"{rule['join']:g}) into longer phrases, its n-grams make "
            f"{plural(len(phrases), 'phrase')} ({_fig('template')}), among them "
            f"{_phrase_facts(first)}. All {len(removed)} n-grams and joined phrases are removed "
            f"wherever they appear, the shortest among them too (e.g. {_shortest(removed)}); "
            "that changes "
            f"{pct(first['test_texts_changed'], 0)} of the test texts. A template phrase that "
            "only one category uses looks like that category's own words to this rule and "
            "stays, so this measures the shared template only.\n\n"
        )
    else:
        out += "It finds no phrase in this run's training text.\n\n"
    out += (
        "Each text candidate is refitted with the phrases removed from its training and "
        "validation text and scored on the locked test split with them removed, against the "
        "same candidate on the full text (paired cluster-bootstrap interval of the difference, "
        "without minus with): what a catalogue written differently would lose with a model "
        "trained on it. The deployed fit, trained with the template, is not scored on text "
        "without it here.\n\n"
    )
    out += "\n".join(f"- {candidate_sentence(n, r)}" for n, r in records.items()) + "\n"
    return out


def template_limit(m: dict) -> list[str]:
    """The summary's limit on the template, one item: each text candidate's test accuracy with
    and without the catalogue's template phrases, the paired interval and what it says (``[]``
    when no phrase was found or nothing was measured)."""
    records = {
        n: r
        for n, r in ((m.get("explanations") or {}).get("template") or {}).items()
        if r.get("phrases")
    }
    if not records:
        return []
    first = next(iter(records.values()))
    parts = [
        f"`{n}` {pct(r['accuracy'])} with them, {pct(r['accuracy_without'])} without, "
        f"{points_interval(r['difference'], r['difference_low'], r['difference_high'])}, "
        f"{_verdict(r, short=True)}"
        for n, r in records.items()
    ]
    lower = [n for n, r in records.items() if r["difference_high"] < 0]
    if lower:
        meaning = (
            f"a catalogue written differently would cost {listing(f'`{n}`' for n in lower)} "
            "about that much accuracy"
        )
    else:
        meaning = (
            "the intervals do not show a loss: this run cannot say that a catalogue written "
            "differently would cost accuracy"
            if len(records) > 1
            else "the interval does not show a loss: this run cannot say that a catalogue "
            "written differently would cost accuracy"
        )
    return [
        f"Refitted without the catalogue's template phrases ({_section('template', m)}; they are "
        f"in {pct(first['test_texts_changed'], 0)} of the test texts), test accuracy: "
        f"{'; '.join(parts)}. {upper_first(meaning)}."
    ]
