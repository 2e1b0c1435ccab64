"""A completed visit's findings in words, as the patient page lists them.

Pure: reads a visit row already loaded, never queries. The safety flags those findings raise are
``patients.records.safety``'s; attendance is ``patients.therapy.attendance``'s.
"""

from typing import Any

from patients.records.safety import LiverLimits, liver_values_high


def findings_summary(visit: Any, limits: LiverLimits) -> list[str]:
    """A completed visit's findings as short phrases, in the order a clinician reads them."""
    phrases = []
    if visit.site_check:
        phrases.append(f"Site: {visit.get_site_check_display().lower()}")
    high = liver_values_high(visit, limits)
    if visit.alt_u_per_l is not None:
        phrases.append(f"ALT {visit.alt_u_per_l}")
    if visit.ast_u_per_l is not None:
        phrases.append(f"AST {visit.ast_u_per_l}")
    if high:
        phrases.append(f"liver tests above {limits.multiple} times normal")
    if visit.phq9_total is not None:
        item9 = f" (item 9: {visit.phq9_item9})" if visit.phq9_item9 is not None else ""
        phrases.append(f"PHQ-9 {visit.phq9_total}{item9}")
    elif visit.phq9_item9 is not None:
        phrases.append(f"PHQ-9 item 9: {visit.phq9_item9}")
    if visit.gad7_total is not None:
        phrases.append(f"GAD-7 {visit.gad7_total}")
    if visit.cravings is not None:
        phrases.append(f"Cravings {visit.cravings}/10")
    if visit.urine_drug_screen:
        phrases.append(f"Urine screen: {visit.get_urine_drug_screen_display().lower()}")
    if visit.substance_use:
        phrases.append(f"Use since last visit: {visit.get_substance_use_display().lower()}")
    if visit.adverse_events.strip():
        phrases.append(f"Adverse events: {visit.adverse_events.strip()}")
    return phrases
