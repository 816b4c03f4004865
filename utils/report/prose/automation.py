"""The automation section and notebook 05's automation cell: how far the chosen candidate's
probabilities can be trusted (calibration on validation) and which products it classifies without
a person (the threshold chosen on validation, what it gives on test). Every number from
``metrics.json``'s ``evaluation.calibration`` and ``evaluation.threshold``.
"""

from __future__ import annotations

from ..formatting import interval, pct, plural, upper_first
from .common import _fig, called


def _level(auto: dict) -> str:
    return pct((auto.get("intervals") or {}).get("level", 0.95), 0)


def calibration_sentence(cal: dict) -> str:
    """What the validation probabilities' calibration is, and whether temperature scaling was
    kept."""
    if not cal:
        return ""
    v = cal["validation"]
    rel = cal["reliability"]["validation"]
    out = (
        f"On the {plural(rel['products'], 'validation product')}, the expected calibration error "
        f"of `{cal['candidate']}`'s highest probability is {v['raw']['ece']:.3f} "
        f"({rel['n_bins']} {rel['binning']} bins; mean highest probability "
        f"{pct(rel['mean_confidence'])}, accuracy {pct(rel['accuracy'])}). Temperature scaling "
        f"fitted there gives T = {cal['fitted_temperature']:.3f} ("
        + (
            "below one: it sharpens the probabilities"
            if cal["fitted_temperature"] < 1
            else "above one: it softens the probabilities"
        )
        + f"): validation NLL {v['raw']['nll']:.3f} → "
        f"{v['scaled']['nll']:.3f}, ECE {v['raw']['ece']:.3f} → {v['scaled']['ece']:.3f}; "
    )
    if cal["kept"]:
        out += "it is kept, and the threshold below reads the scaled probabilities"
    else:
        out += (
            "it is not kept (it must lower the NLL without raising the ECE), and the threshold "
            "below reads the probabilities as the candidate gives them"
        )
    test = cal["reliability"]["test"]
    scaled = cal["reliability"]["test_scaled"]
    return (
        out + f". On the test products the ECE is {test['ece']:.3f} as given, "
        f"{scaled['ece']:.3f} scaled (fitted on validation, not on them)."
    )


def _verdict(test: dict, target: float) -> str:
    low, high = test.get("accuracy_low"), test.get("accuracy_high")
    if low is None:
        return ""
    if low >= target:
        return f"its whole interval lies at or above the target of {pct(target)}"
    if high < target:
        return f"its whole interval lies below the target of {pct(target)}: the target is missed"
    return (
        f"whether it reaches the target of {pct(target)} is not resolved at this sample size "
        "(the interval contains it)"
    )


def intervals_words(test: dict) -> str:
    """How the test intervals were made: resampling near-duplicate groups, or exact binomial
    where every resample agrees."""
    exact = [
        k for k in ("coverage", "accuracy") if test.get(f"{k}_interval", "").startswith("Clopper")
    ]
    if not exact:
        return "both resample near-duplicate groups"
    if len(exact) == 2:
        return "exact binomial (Clopper-Pearson) for both, as every resample agrees"
    other = "accuracy" if exact == ["coverage"] else "coverage"
    why = "no accepted product is wrong" if exact == ["accuracy"] else "every product is accepted"
    return (
        f"the {other}'s resamples near-duplicate groups; the {exact[0]}'s is exact binomial "
        f"(Clopper-Pearson), as {why} and every resample agrees"
    )


def threshold_sentence(auto: dict) -> str:
    """The threshold chosen on validation and what it gives on test."""
    if not auto:
        return ""
    val, test = auto["validation"], auto["test"]
    target, level = val["target"], _level(auto)
    full = auto["no_abstention"]
    rule = (
        f"The threshold is {val['rule']} (target {pct(target)}, at least "
        f"{plural(val['min_accepted'], 'product')}). "
    )
    if val["threshold"] is None:
        return rule + (
            f"No threshold meets it on the {plural(val['products'], 'validation product')}: at "
            f"this target every one of the {plural(test['products'], 'test product')} goes to a "
            f"person. Without abstention the test accuracy is {pct(full['test'])}; the curve "
            f"({_fig('risk_coverage')}) shows the accuracy each coverage gives."
        )
    out = rule + (
        f"On validation it is a highest probability of at least {val['threshold']:.3f}, which "
        f"accepts {val['accepted']} of {val['products']} products ({pct(val['coverage'])}), "
        f"{pct(val['accuracy'])} of them right ({level} exact interval "
        f"{pct(val['accuracy_low'])}–{pct(val['accuracy_high'])}: the validation products also "
        "chose the candidate's settings, so this is optimistic). "
    )
    if not test["accepted"]:
        return out + (
            f"On the {plural(test['products'], 'test product')} it accepts none: all go to a "
            f"person ({_fig('risk_coverage')})."
        )
    return out + (
        f"On the {plural(test['products'], 'test product')}, read once, it classifies "
        f"{test['accepted']} automatically: coverage "
        f"{interval(test['coverage'], test['coverage_low'], test['coverage_high'])}, accuracy "
        f"among them {interval(test['accuracy'], test['accuracy_low'], test['accuracy_high'])}, "
        f"{plural(test['errors'], 'error')} ({level} intervals: {intervals_words(test)}); "
        f"{_verdict(test, target)}. "
        f"The other {plural(test['to_person'], 'product')} ({pct(1 - test['coverage'])}) go to a "
        f"person. Without abstention the test accuracy is {pct(full['test'])} "
        f"({_fig('risk_coverage')})."
    )


def automation_text(cal: dict, auto: dict) -> str:
    """Notebook 05's sentences under the two figures."""
    return calibration_sentence(cal) + "\n\n" + threshold_sentence(auto)


def section_automation(m: dict) -> str:
    """The automation section: the calibration, the threshold and who reviews what."""
    ev = m.get("evaluation") or {}
    cal, auto = ev.get("calibration") or {}, ev.get("threshold") or {}
    if not auto:
        return "This run recorded no automation threshold (notebook 05 ran without it).\n"
    return (
        f"{upper_first(called(m))} gives each product a probability per category. Can the "
        f"highest one say which answers need no review? Its calibration first "
        f"({_fig('reliability')}). {calibration_sentence(cal)}\n\n"
        f"{threshold_sentence(auto)}\n"
    )
