//! `mappings/CODES.md` is the code table as `src/codes.rs` and `mappings check` have it: generated,
//! never edited by hand, so the documentation and the checker cannot disagree.

mod common;

#[test]
fn the_documented_code_table_is_the_one_the_checker_uses() {
    let generated = fhirgate::mappings_cli::code_table::markdown();
    let path = common::repo_path("mappings/CODES.md");
    if std::env::var_os("FHIRGATE_UPDATE_CODES").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "mappings/CODES.md is out of date: run FHIRGATE_UPDATE_CODES=1 cargo test --test code_table"
    );
    // The checker's own answers appear in it: body water is a mass (kg), the case the README's
    // hand-written table once got wrong.
    let water = generated
        .lines()
        .find(|l| l.starts_with("| 188764 |"))
        .expect("body water is in the table");
    assert!(water.ends_with("| `kg`, `g`, `[lb_av]` |"), "{water}");
    assert!(fhirgate::mappings_cli::checks::unit_mismatch(fhirgate::model::MdcCode(188764), "%").is_some());
}
