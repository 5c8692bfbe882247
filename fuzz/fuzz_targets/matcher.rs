//! Fuzzes the label matcher parser: arbitrary text through `Matcher::parse`. A matcher it accepts must print a
//! canonical form that parses back to the same matcher (unless quoting takes it past the length limit), and
//! evaluating it against labels must not panic.

#![no_main]

use alertwire_shared::routing::labels::Labels;
use alertwire_shared::routing::matcher::{MAX_MATCHER, Matcher, MatcherError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(matcher) = Matcher::parse(text) else {
        return;
    };
    let canonical = matcher.to_string();
    if canonical.len() > MAX_MATCHER {
        // Quoting and escaping lengthen the text; the limit is on what the user sends.
        assert_eq!(Matcher::parse(&canonical), Err(MatcherError::TooLong));
        return;
    }
    let again = Matcher::parse(&canonical)
        .unwrap_or_else(|e| panic!("the canonical form {canonical:?} of {text:?} is refused: {e}"));
    assert_eq!(again, matcher, "{text:?} printed as {canonical:?}");
    let value = matcher.value();
    for labels in [
        Labels::from_pairs(Vec::new()),
        Labels::from_pairs(vec![(matcher.name(), value)]),
        Labels::from_pairs(vec![
            (matcher.name(), ""),
            (matcher.name(), value),
            ("tag", text),
        ]),
    ] {
        let _ = matcher.matches(&labels);
    }
});
