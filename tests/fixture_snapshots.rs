//! Each fixture in `fixtures/ble/` maps to the Bundle stored beside it in `fixtures/ble/expected/`
//! (insta snapshots, reviewed against the PHD IG examples). A change in the output fails here until
//! the new snapshot has been reviewed (`cargo insta review`).

mod common;

#[test]
fn ble_fixtures_map_to_their_reviewed_bundles() {
    let fixtures = common::ble_fixtures();
    assert!(fixtures.len() >= 12, "fixtures missing");
    for path in fixtures {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let json = common::map_fixture(&path);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(common::repo_path("fixtures/ble/expected"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_input_file(&path);
        settings.bind(|| insta::assert_snapshot!(name, json));
    }
}

#[test]
fn pcd_examples_map_to_their_reviewed_bundles() {
    for path in common::pcd_report_fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let json = common::map_fixture(&path);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(common::repo_path("fixtures/hl7v2/expected"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_input_file(&path);
        settings.bind(|| insta::assert_snapshot!(name, json));
    }
}

#[test]
fn mapping_is_deterministic() {
    for path in common::ble_fixtures() {
        assert_eq!(
            common::map_fixture(&path),
            common::map_fixture(&path),
            "{}",
            path.display()
        );
    }
}
