fn main() {
    for code in std::env::args().skip(1) {
        let t = jaq_core::load::parse(&code, |p| p.term());
        println!("{code}\n  {t:?}");
    }
}
