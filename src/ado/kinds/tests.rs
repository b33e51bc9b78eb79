//! The registry of kinds against the selector schemas: what a schema accepts, the kind
//! either does (`options`) or says it cannot (`ignored_options`), and nothing else.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{COMMON_IGNORED_OPTIONS, KINDS};

/// Options every selector takes that no kind reads: `query` (the filter, the mapping's) and
/// Port's core options that lint says are ignored.
fn common() -> BTreeSet<&'static str> {
    COMMON_IGNORED_OPTIONS
        .iter()
        .map(|o| o.name)
        .chain(["query"])
        .collect()
}

#[test]
fn every_option_a_fetched_kinds_schema_accepts_takes_effect_or_is_declared_ignored() {
    for kind in KINDS {
        let schema: Value = serde_json::from_str(kind.schema).unwrap_or(Value::Null);
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let accepted: BTreeSet<&str> = properties
            .keys()
            .map(String::as_str)
            .filter(|k| !common().contains(k))
            .collect();
        let read: BTreeSet<&str> = kind.options.iter().copied().collect();
        let ignored: BTreeSet<&str> = kind.ignored_options.iter().map(|o| o.name).collect();
        assert!(
            read.is_disjoint(&ignored),
            "{}: {read:?} {ignored:?}",
            kind.name
        );
        let declared: BTreeSet<&str> = read.union(&ignored).copied().collect();
        assert_eq!(accepted, declared, "{}", kind.name);
        // The schema marks exactly the ignored options `deprecated`, so editors grey them out.
        let deprecated: BTreeSet<&str> = properties
            .iter()
            .filter(|(_, p)| p["deprecated"] == Value::Bool(true))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(deprecated, ignored, "{}", kind.name);
        for option in kind.ignored_options {
            assert!(option.why.ends_with('.'), "{}: {}", kind.name, option.name);
        }
    }
}

#[test]
fn kind_names_are_unique() {
    let names: BTreeSet<&str> = KINDS.iter().map(|k| k.name).collect();
    assert_eq!(names.len(), KINDS.len());
}

#[test]
fn every_selector_accepts_the_common_ignored_options_and_says_they_are_ignored() {
    for kind in KINDS {
        let schema: Value = serde_json::from_str(kind.schema).unwrap_or(Value::Null);
        for option in COMMON_IGNORED_OPTIONS {
            assert!(
                schema["properties"].get(option.name).is_some(),
                "{}: {}",
                kind.name,
                option.name
            );
            assert!(!kind.options.contains(&option.name), "{}", kind.name);
            assert!(kind.ignored_option(option.name).is_some(), "{}", kind.name);
        }
    }
}

mod each_in_order {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::super::{Collected, PARTS_IN_FLIGHT, Parents, SyncCtx, each_in_order};
    use crate::ado::client::{Client, ClientOptions, Pat};
    use crate::ado::org::OrgUrl;

    fn ctx(pages: Option<tokio::sync::mpsc::Sender<Vec<Value>>>) -> SyncCtx {
        let org = OrgUrl::parse("https://dev.azure.com/acme").unwrap();
        SyncCtx {
            client: Client::new(org, &Pat::new("pat"), ClientOptions::default()).unwrap(),
            parents: Arc::new(Parents::default()),
            options: Arc::default(),
            narrow: Arc::default(),
            pages,
        }
    }

    /// Reads 50 parts, the later ones finishing first, noting the most in flight at once.
    async fn read(ctx: &SyncCtx, most: Arc<AtomicUsize>) -> Collected {
        let now = Arc::new(AtomicUsize::new(0));
        each_in_order(ctx, "parts", 0..50u64, |i| {
            let (now, most) = (now.clone(), most.clone());
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50 - i)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                let mut part = Collected::default();
                part.items.push(json!(i));
                if i == 7 {
                    part.problem("part 7 failed");
                }
                part
            }
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn parts_finishing_out_of_order_are_handed_over_in_input_order_a_few_at_a_time() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let most = Arc::new(AtomicUsize::new(0));
        let reading = tokio::spawn({
            let most = most.clone();
            async move { read(&ctx(Some(tx)), most).await }
        });
        let mut handed = Vec::new();
        while let Some(items) = rx.recv().await {
            handed.extend(items);
        }
        let out = reading.await.unwrap();
        let expected: Vec<Value> = (0..50u64).map(|i| json!(i)).collect();
        assert_eq!(handed, expected);
        assert!(out.items.is_empty(), "handed over, not kept");
        assert_eq!(out.problems.len(), 1, "problems are kept");
        assert!(most.load(Ordering::SeqCst) <= PARTS_IN_FLIGHT);

        let collected = read(&ctx(None), Arc::default()).await;
        assert_eq!(
            collected.items, expected,
            "without a sink, collected in order"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_sink_gone_before_the_end_makes_the_listing_incomplete() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        drop(rx);
        let out = read(&ctx(Some(tx)), Arc::default()).await;
        assert!(
            out.problems
                .iter()
                .any(|p| p.text.contains("the reader of the listing went away")),
            "{:?}",
            out.problems
        );
    }
}

mod text_list {
    use serde_json::{Value, json};

    use super::super::{Collected, TextList};

    #[test]
    fn a_text_list_gives_its_items_back_in_order_with_its_parts_problems() {
        let mut first = Collected::default();
        first.problem("page 2 failed");
        let texts = TextList::texts(vec![json!({"id": 1}), json!({"id": 2})], &mut first);
        let list = TextList::from_parts([
            (texts, first),
            (vec![r#"{"id":3}"#.into()], Collected::default()),
        ]);
        let items: Vec<Value> = list.items().map(Result::unwrap).collect();
        assert_eq!(
            items,
            [json!({"id": 1}), json!({"id": 2}), json!({"id": 3})]
        );
        assert_eq!(list.problem.unwrap().text, "page 2 failed");
    }

    #[test]
    fn an_item_too_deep_to_read_back_is_a_problem_not_a_missing_item() {
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let mut out = Collected::default();
        let texts = TextList::texts(vec![json!({"id": 1}), deep], &mut out);
        let list = TextList::from_parts([(texts, out)]);
        let read: Vec<_> = list.items().collect();
        assert_eq!(read.len(), 2);
        assert!(read[0].is_ok());
        let problem = read[1].as_ref().unwrap_err();
        assert!(problem.text.contains("read back"), "{}", problem.text);
    }
}
