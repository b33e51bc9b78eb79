fn main() {
    for code in std::env::args().skip(1) {
        let t = jaq_core::load::lex::Lexer::new(&code).lex();
        println!("{code}\n  {t:?}");
    }
}
