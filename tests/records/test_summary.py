"""A completed visit's findings in words, in the order a clinician reads them.

Pure: the visits are unsaved rows, never written to the database.
"""

from patients.models import Visit
from patients.records.safety import LiverLimits
from patients.records.summary import findings_summary

# Upper limits of normal 40 and 35 U/L, flagged above three times that: ALT over 120, AST over 105.
LIMITS = LiverLimits(alt_upper=40, ast_upper=35, multiple=3)


def summary(**findings: object) -> list[str]:
    return findings_summary(Visit(status=Visit.Status.COMPLETED, **findings), LIMITS)


def test_a_visit_without_findings_says_nothing():
    assert summary() == []


def test_every_finding_appears_in_the_order_a_clinician_reads_them():
    phrases = summary(
        adverse_events="  Bruising at the site  ",
        substance_use=Visit.SubstanceUse.ALCOHOL,
        urine_drug_screen="negative",
        cravings=4,
        gad7_total=9,
        phq9_total=12,
        phq9_item9=1,
        ast_u_per_l=200,
        alt_u_per_l=30,
        site_check=Visit.SiteCheck.REDNESS,
    )
    assert phrases == [
        "Site: redness or swelling",
        "ALT 30",
        "AST 200",
        "liver tests above 3 times normal",
        "PHQ-9 12 (item 9: 1)",
        "GAD-7 9",
        "Cravings 4/10",
        "Urine screen: negative",
        "Use since last visit: alcohol",
        "Adverse events: Bruising at the site",
    ]


def test_liver_values_at_the_limit_are_not_called_high_and_one_above_is():
    assert summary(alt_u_per_l=120, ast_u_per_l=105) == ["ALT 120", "AST 105"]
    assert summary(alt_u_per_l=121) == ["ALT 121", "liver tests above 3 times normal"]
    assert summary(ast_u_per_l=106) == ["AST 106", "liver tests above 3 times normal"]


def test_the_multiple_in_the_words_is_the_one_in_force():
    twice = LiverLimits(alt_upper=40, ast_upper=35, multiple=2)
    visit = Visit(status=Visit.Status.COMPLETED, alt_u_per_l=81)
    assert findings_summary(visit, twice) == ["ALT 81", "liver tests above 2 times normal"]
    assert findings_summary(visit, LIMITS) == ["ALT 81"]


def test_zero_is_a_result_and_is_shown():
    assert summary(alt_u_per_l=0, phq9_total=0, phq9_item9=0, gad7_total=0, cravings=0) == [
        "ALT 0",
        "PHQ-9 0 (item 9: 0)",
        "GAD-7 0",
        "Cravings 0/10",
    ]


def test_item_9_alone_or_the_total_alone_each_have_their_own_words():
    assert summary(phq9_item9=2) == ["PHQ-9 item 9: 2"]
    assert summary(phq9_total=7) == ["PHQ-9 7"]


def test_choices_are_given_in_words_and_blank_text_is_left_out():
    assert summary(
        site_check=Visit.SiteCheck.NOT_CHECKED, urine_drug_screen="not_done", substance_use="none", adverse_events="  "
    ) == ["Site: not checked", "Urine screen: not done", "Use since last visit: none reported"]
