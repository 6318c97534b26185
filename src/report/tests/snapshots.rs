//! Snapshots of every built-in template rendered from the fixed model
//! (`fixture`: timestamps, host and version are placeholders), of
//! requests.csv, and of the documented AsciiDoc example. Run
//! `UPDATE_SNAPSHOTS=1 cargo test` to rewrite them after an intended change.

use super::super::snapshot::check;
use super::super::*;

#[test]
fn every_builtin_template_matches_its_snapshot() {
    let model = fixture::model();
    for format in [
        ReportFormat::Markdown,
        ReportFormat::Json,
        ReportFormat::Html,
        ReportFormat::Csv,
    ] {
        let template = builtin(format);
        let text = render(&template, &model).expect("renders");
        check(&template.output, &text);
    }
}

#[test]
fn requests_csv_matches_its_snapshot() {
    check(REQUESTS_CSV, &requests_csv(&fixture::records()));
}

#[test]
fn cells_csv_has_one_row_per_cell_and_the_documented_header() {
    let text = render(&builtin(ReportFormat::Csv), &fixture::model()).expect("renders");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "header and four cells");
    let columns = lines[0].split(',').count();
    assert!(
        lines.iter().all(|l| l.split(',').count() == columns),
        "{text}"
    );
    let docs = include_str!("../../../docs/templates.md");
    assert!(
        docs.contains(lines[0]),
        "docs/templates.md lists the cells.csv header"
    );
    let header = REQUESTS_CSV_HEADER.join(",");
    assert!(
        docs.contains(&header),
        "docs/templates.md lists the requests.csv header"
    );
}

#[test]
fn the_documented_asciidoc_example_renders() {
    let text = include_str!("../../../templates/examples/team.adoc.hbs");
    let docs = include_str!("../../../docs/templates.md");
    assert!(
        docs.contains(text.trim()),
        "docs/templates.md shows templates/examples/team.adoc.hbs verbatim"
    );
    let template = Template {
        origin: "templates/examples/team.adoc.hbs".into(),
        output: "team.adoc".into(),
        text: text.into(),
        strict: true,
    };
    check(
        "team.adoc",
        &render(&template, &fixture::model()).expect("renders in strict mode"),
    );
}

/// An example template shown verbatim in docs/templates.md, rendered in
/// strict mode from the fixture (whose model label is `SmolLM2 <360M>`).
fn documented_example(name: &str, text: &str) -> String {
    let docs = include_str!("../../../docs/templates.md");
    assert!(
        docs.contains(text.trim()),
        "docs/templates.md shows templates/examples/{name}.hbs verbatim"
    );
    let template = Template {
        origin: format!("templates/examples/{name}.hbs"),
        output: name.into(),
        text: text.into(),
        strict: true,
    };
    let output = render(&template, &fixture::model()).expect("renders in strict mode");
    check(name, &output);
    output
}

#[test]
fn the_documented_junit_example_escapes_labels_into_valid_xml() {
    let xml = documented_example(
        "junit.xml",
        include_str!("../../../templates/examples/junit.xml.hbs"),
    );
    assert!(xml.contains("classname=\"SmolLM2 &lt;360M&gt;\""), "{xml}");
    assert!(!xml.contains("<360M>"), "{xml}");
    // Every & starts an entity, and every < a tag.
    for (at, _) in xml.match_indices('&') {
        let rest = &xml[at..];
        assert!(
            ["&lt;", "&gt;", "&amp;", "&quot;", "&#39;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "a bare & at {at}: {xml}"
        );
    }
    assert!(
        xml.contains("<failure message=\"1 of 6 requests failed\">"),
        "{xml}"
    );
}

#[test]
fn the_documented_latex_example_escapes_special_characters() {
    let tex = documented_example(
        "results.tex",
        include_str!("../../../templates/examples/results.tex.hbs"),
    );
    assert!(
        tex.contains("SmolLM2 \\textless{}360M\\textgreater{} & "),
        "{tex}"
    );
    assert_eq!(
        super::super::helpers::latex_text("a_b & 50% of $x #1 {y} ~z ^w \\"),
        "a\\_b \\& 50\\% of \\$x \\#1 \\{y\\} \\textasciitilde{}z \\textasciicircum{}w \\textbackslash{}"
    );
}
