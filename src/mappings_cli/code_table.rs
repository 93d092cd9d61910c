//! The code table as people read it (`mappings/CODES.md`, `fhirgate mappings codes`): every MDC code a
//! mapping may name, generated from `src/codes.rs` and from the same unit rule `mappings check`
//! applies, so the documentation and the checker cannot disagree.

use super::checks::units_for;
use crate::codes;

/// The table in Markdown.
pub fn markdown() -> String {
    let mut text = String::from(
        "# Codes a mapping may name\n\n\
         Generated from `src/codes.rs` by `fhirgate mappings codes` (`tests/code_table.rs` fails when this \
         file is out of date; `FHIRGATE_UPDATE_CODES=1 cargo test --test code_table` rewrites it). \
         *Units* are the UCUM units `mappings check` accepts with the code (a mapping converts others \
         with `convert_to`); none listed means the table does not constrain it. *Vital sign*: the R4 \
         vital-signs profile applies. A code not listed here needs its `reference_id` in the mapping.\n\n\
         | MDC | reference id | meaning | LOINC | vital sign | units |\n|---|---|---|---|---|---|\n",
    );
    for entry in codes::TABLE {
        let loinc: Vec<&str> = entry
            .loinc
            .iter()
            .copied()
            .chain(entry.extra_loinc.iter().copied())
            .collect();
        let units = units_for(entry.mdc);
        text.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            entry.mdc.0,
            entry.reference_id,
            entry.text,
            if loinc.is_empty() {
                "–".to_string()
            } else {
                loinc.join(" + ")
            },
            if entry.vital_sign { "yes" } else { "" },
            if units.is_empty() {
                "–".to_string()
            } else {
                units.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
            },
        ));
    }
    text.push_str(
        "\nGlucose's LOINC follows the sample (the MDC code) and the unit's dimension (mass or substance \
         concentration):\n\n| MDC | meaning | mass (mg/dL) | substance (mmol/L) |\n|---|---|---|---|\n",
    );
    for row in codes::LOINC_BY_DIMENSION {
        text.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.mdc.0, row.meaning, row.mass, row.moles
        ));
    }
    text.push_str(
        "\nStatistics (`statistic` in a mapping) keep the code's LOINC and add LOINC's own code where it \
         has one for any period:\n\n| MDC | statistic | LOINC |\n|---|---|---|\n",
    );
    for (code, statistic, loinc, display) in codes::STATISTIC_LOINC {
        text.push_str(&format!("| {} | {} | {loinc} {display} |\n", code.0, statistic.name()));
    }
    text
}
