fn main() {
    let mut args = std::env::args().skip(1);
    let expr = args.next().unwrap();
    let input: serde_json::Value =
        serde_json::from_str(&args.next().unwrap_or("null".into())).unwrap();
    let e = adoport::jq::Engine::new(Default::default());
    match e.compile(&expr) {
        Ok(p) => println!("{:?}", p.all(&adoport::jq::Input::new(&input))),
        Err(err) => println!("compile error {err:?}"),
    }
}
