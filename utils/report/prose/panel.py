"""The note's sections beyond the original: the panel of candidates (label budget, costs) and what
the chosen model looks at (words, the photo/text split).
"""

from __future__ import annotations

import pandas as pd

from ..figures import COST_MIN_CANDIDATES, not_drawn_by_design
from ..formatting import (
    interval,
    listing,
    markdown_table,
    ms,
    pct,
    plural,
    points_interval,
    pvalue,
    seconds,
    upper_first,
)
from .common import (
    READS_WORDS,
    _absent,
    _choice,
    _dagger_note,
    _fig,
    _marked,
    _section,
    boilerplate_sentence,
    called,
    faithfulness_words,
)


def cost_line(n: int) -> str:
    """Why this run draws no accuracy-cost chart: with ``n`` candidates it restates the table."""
    return (
        f"No accuracy-cost chart: with {plural(n, 'candidate')} (fewer than "
        f"{COST_MIN_CANDIDATES}) it would restate the panel's table, whose columns give each "
        "one's accuracy and its cost per product."
    )


def section_beyond(m: dict) -> str:

    ev = m.get("evaluation", {})
    if not ev:
        return ""
    t, paired, costs, labelled = ev["table"], ev["paired"], ev["costs"], ev["labelled"]
    ref = ev["reference"]
    rows = {}
    for n in sorted(t, key=lambda n: (-t[n]["accuracy"], n)):
        p = paired.get(n)
        rows[n] = {
            "reads": READS_WORDS.get(ev["reads"][n], ev["reads"][n]),
            "accuracy (CI)": interval(
                t[n]["accuracy"], t[n]["accuracy_low"], t[n]["accuracy_high"]
            ),
            "macro-F1": f"{t[n]['macro_f1']:.3f}",
            f"Δ vs {ref} (paired CI)": points_interval(
                p["accuracy_difference"], p["difference_low"], p["difference_high"]
            )
            if p
            else "—",
            "McNemar p (Holm)": (
                f"{pvalue(p['mcnemar']['p_value'])} ({pvalue(p['mcnemar'].get('holm_p'))})"
            )
            if p
            else "—",
            "labelled": labelled.get(n, 0),
            "per product": ms(costs[n]["inference_s_per_item"]) if n in costs else "—",
        }
    text = (
        f"Every candidate on the same test products, ranked by test accuracy. The ranking is "
        f"descriptive: {called(m)} was chosen on validation (the summary). Paired intervals and "
        f"McNemar's test are against {ref}"
        + ("" if ref == "clip-head" else " (the reference, since the note's clip-head did not run)")
        + (
            f"; Holm-adjusted p-values, in parentheses, account for the {len(paired)} comparisons"
            if len(paired) > 1
            else "; with one comparison, Holm's adjustment leaves its p-value unchanged"
        )
        + (
            f" (the table below; {_fig('results')} draws each candidate's own interval)."
            if "cost" in not_drawn_by_design(m)
            else f" (the table below; {_fig('results')} draws each candidate's own interval, "
            f"{_fig('cost')} its accuracy against its cost)."
        )
        + ("\n\n" + cost_line(len(t)) if "cost" in not_drawn_by_design(m) else "")
        + "\n\n"
    )
    text += markdown_table(_marked(pd.DataFrame(rows).T, m)) + _dagger_note(m)
    text += budget_text(ev)
    return text


def budget_text(ev: dict) -> str:

    lb = ev.get("label_budget")
    if not lb or not lb.get("summary"):
        return ""
    frame = pd.DataFrame(lb["summary"])
    table = frame.pivot_table(index="candidate", columns="k", values="mean", sort=False)
    ks = [k for k in lb["ks"] if k in table.columns]
    labels = frame.groupby("k")["labelled"].max().to_dict() if "labelled" in frame else {}
    table = table[ks]
    table.columns = [f"k = {k}" + (f" ({labels[k]:.0f} labels)" if k in labels else "") for k in ks]
    text = (
        f"\n{_fig('label_budget')} refits {listing(lb['candidates'])} with k labelled products per "
        "category for training and up to k more, from the validation split, for choosing their "
        f"settings (all: the whole training and validation parts); {lb['draws']} random draws per "
        "k; the test accuracy is the mean over the draws, and the column says how many labelled "
        "products each refit read in all:\n\n" + markdown_table(table.map(pct)) + "\n"
    )
    return text


# --------------------------------------------------------------------------- what the recommended
# model looks at
def _agreement_word(rho: float) -> str:
    if rho >= 0.7:
        return "closely"
    if rho >= 0.4:
        return "moderately"
    if rho > 0.1:
        return "weakly"
    return "not"


def text_verdict(summary: dict, alpha: float = 0.05) -> str:
    """Plain-language reading of the word explanations' checks and of the fusions' photo/text
    split (notebook 06, the note): one paragraph per candidate."""
    return "\n\n".join(text_verdicts(summary, alpha))


def text_verdicts(summary: dict, alpha: float = 0.05) -> list[str]:
    from ...explain.words import reads

    paragraphs = []
    for name, s in summary.get("text", {}).items():
        parts = []
        paragraphs.append(parts)
        st = s["stability"]
        k, thr = st["settings"]["top_k"], st["settings"]["threshold"]
        medians = st["median_jaccard"]
        counts = sorted(medians, key=int)
        parts.append(
            f"**{name}** (reads the {reads(name)}): across {len(st['settings']['seeds'])} LIME "
            f"seeds on {plural(len(st['products']), 'product')} from "
            f"{plural(len(st['categories']), 'category', 'categories')}, the median top-{k} word "
            "overlap is " + ", ".join(f"{medians[c]:.2f} at {c} copies" for c in counts) + "."
        )
        if st["reached"]:
            parts.append(
                f"The word figures use {st['chosen']} perturbed copies, the smallest count whose "
                f"median overlap reaches {thr:g}."
            )
        else:
            parts.append(
                f"No count reached a median overlap of {thr:g}: the word figures use the largest, "
                f"{st['chosen']}, and their top words should be read as indicative only."
            )
        parts += faithfulness_words(s["deletion"], "words", alpha, "products")
        co = s.get("coefficients")
        if co and co["overall"]["spearman"] is not None:
            rhos = [v["spearman"] for v in co["per_category"].values() if v["spearman"] is not None]
            rho = co["overall"]["spearman"]
            span = f" (per category {min(rhos):.2f} to {max(rhos):.2f})" if rhos else ""
            parts.append(
                f"Overall, LIME's per-category word averages agree {_agreement_word(rho)} with the "
                "logistic "
                "regression's own coefficients (the model's weights: log-odds per unit of a "
                "normalised TF-IDF feature, which rank the words it leans on but are not each "
                f"word's effect on the probability): Spearman {rho:.2f} over "
                f"{co['overall']['pairs']} (category, word) pairs{span}."
            )
            floor = co.get("noise_floor") or {}
            if floor.get("unread_mean_abs_weight") is not None and floor.get("read_words"):
                parts.append(
                    f"Words it cannot read (outside its vocabulary) still get a mean |weight| of "
                    f"{floor['unread_mean_abs_weight']:.4f}, against "
                    f"{floor['read_mean_abs_weight']:.4f} for the words it reads: LIME's noise "
                    "floor."
                )
        err = s.get("errors")
        if err:
            line = f"It misclassifies {err['misclassified']} of {err['tested']} test products"
            right = sorted((err.get("photo_right") or {}).items(), key=lambda kv: -kv[1])
            if err["misclassified"] and right:
                best = [(n, v) for n, v in right[: len(right[:3])] if v]
                line += (
                    (
                        "; on those, the photo candidates right most often are "
                        + listing(f"{n} ({v})" for n, v in best)
                        if len(right) > 1
                        else f"; {best[0][0]}, the only photo candidate, gets {best[0][1]} of "
                        "them right"
                    )
                    if best
                    else "; no photo candidate gets any of them right"
                )
            parts.append(line + ".")
        t = s.get("timing")
        if t and t.get("median_seconds") is not None:
            parts.append(
                f"One explanation takes {seconds(t['median_seconds'])} (median over "
                f"{plural(t['products'], 'product')}, at most {seconds(t['max_seconds'])}) at "
                f"{t['num_samples']} copies."
            )
    for name, f in summary.get("fusion", {}).items():
        parts = []
        paragraphs.append(parts)
        per = f["per_category"]
        lo = min(per, key=lambda c: per[c]["photo_share"]) if per else None
        hi = max(per, key=lambda c: per[c]["photo_share"]) if per else None
        d = f["disagreements"]
        line = (
            f"**{name}** ({f['method']}): on {f['products']} test products the photo carries "
            f"{pct(f['photo_share'], 0)} of the decision on average"
        )
        if lo is not None and lo != hi:
            line += (
                f", from {pct(per[lo]['photo_share'], 0)} ({lo}) to "
                f"{pct(per[hi]['photo_share'], 0)} ({hi})"
            )
        w = f.get("settings", {}).get("weight")
        if w in (0, 1):
            line += (
                f". Its validation chose w = {w:g}: it is {d['sides'][1 - int(w)]} alone, the "
                f"{('photo', 'text')[int(w)]} is ignored"
            )
        line += (
            f". The photo side ({d['sides'][0]}) and the text side ({d['sides'][1]}) disagree on "
            f"{plural(d['products'], 'product')}"
        )
        if d["products"]:
            line += (
                f"; the fusion sides with the text on {d['fused_with_text']}, with the photo on "
                f"{d['fused_with_photo']}, and is right on {d['fused_right']}"
            )
        parts.append(line + ".")
    return [" ".join(p) for p in paragraphs]


def section_deployed(m: dict) -> str:
    """What the chosen candidate looks at: words, the photo/text split, and how far to trust
    it."""
    ex = m.get("explanations", {})
    rec = _choice(m)
    text_part, fusion = ex.get("text") or {}, ex.get("fusion") or {}
    out = ""
    if rec:
        reads = (m.get("evaluation") or {}).get("reads", {}).get(rec["candidate"])
        photo = (ex.get("image") or {}).get("candidate")
        others = [n for n in (text_part.get("text") or {}) if n != rec["candidate"]]
        where = {
            "text": "reads the text: its words are explained below"
            + (f", with {listing(others)}" if others else ""),
            "image+text": "reads the photo and the text: how much each weighs is below",
            "image": (
                f"reads the photo: {_section('explanations', m)} explains its pixels"
                if photo == rec["candidate"]
                else f"reads the photo; {_section('explanations', m)} explains another photo "
                f"candidate, {photo}"
                if photo
                else "reads the photo, which no explanation of this run covers"
            ),
        }.get(reads, "")
        out += f"{upper_first(called(m))} {where}. " if where else ""
    if not (text_part.get("text") or fusion):
        return out + "No text or fusion candidate was explained in this run.\n"
    if text_part.get("text"):
        out += (
            f"Text candidates are explained word by word with LIME's text explainer on the very "
            f"strings they read ({_fig('text_words')}); per category, the words with the largest "
            f"mean weight are set beside the TF-IDF model's own coefficients "
            f"({_fig('word_importance')}); then LIME's stability across seeds and a deletion "
            f"check ({_fig('text_trust')}). "
        )
    if fusion:
        # a paragraph of its own, so that its figures follow it, not the text figures' paragraph
        out = (out.rstrip() + "\n\n" if text_part.get("text") else out) + (
            f"The fusion candidates are split between photo and text ({_fig('modality')}, "
            f"{_fig('disagreements')}). "
        )
    else:
        out += _absent(m, ["fusion-late", "fusion-early"], "The photo/text split of the fusions")
    out += "\n\n"
    out += text_verdict({**text_part, "fusion": fusion}) + "\n"
    for name, t in (text_part.get("text") or {}).items():
        bp = t.get("boilerplate")
        if bp and bp.get("share", 0) > 0:
            out += "\n" + boilerplate_sentence(name, bp, m) + "\n"
    return out
