//! Lint benchmark: a generated 3,000-resource mapping through load + lint (budget < 1 s).
//!
//! Run: `cargo bench --bench lint`.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use adoport::config::{self, ConfigFiles};

fn mapping(resources: usize) -> String {
    let mut text = String::from("deleteDependentEntities: true\nresources:\n");
    for i in 0..resources {
        text.push_str(&format!(
            r#"  - kind: work-item
    selector:
      query: '.fields["System.WorkItemType"] == "Bug{i}"'
      wiql: "[System.State] <> 'Closed'"
    port:
      entity:
        mappings:
          identifier: .id | tostring
          title: .fields["System.Title"]
          blueprint: '"workItem"'
          properties:
            state: .fields["System.State"]
            type: .fields["System.WorkItemType"]
            created: .fields["System.CreatedDate"] | sub("\\.[0-9]+Z$"; "Z")
            tags: .fields["System.Tags"] // "" | split("; ") | map(select(. != ""))
            link: .url | gsub("_apis/wit/workItems"; "_workitems/edit")
          relations:
            project: .__project.id
"#
        ));
    }
    text
}

fn main() {
    let text = mapping(3000);
    let bytes = text.len();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let files = ConfigFiles {
            mappings: vec![("bench.yaml".into(), text.clone().into_bytes())],
            ..Default::default()
        };
        let start = Instant::now();
        let mut loaded = config::build_config(files);
        config::lint::lint(&mut loaded);
        let secs = start.elapsed().as_secs_f64();
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics.first());
        best = best.min(secs);
    }
    println!(
        "lint: 3000 resources ({:.2} MB): best of 5 {:.0} ms",
        bytes as f64 / 1e6,
        best * 1e3
    );
}
