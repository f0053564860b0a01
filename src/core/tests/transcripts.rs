//! What is kept of a chat: retention of message bodies.

use super::harness::*;
use super::*;

#[test]
fn retention_runs_at_start_and_then_every_hour() {
    let prunes = |e: &[Event]| {
        e.iter()
            .filter_map(|e| match e {
                Event::Prune(before) => Some(*before),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let mut w = world_with(settings());
    let e = w.input(crate::core::Input::Online { fresh: true });
    assert_eq!(prunes(&e), [secs(0) - chrono::Duration::days(30)]);
    assert!(prunes(&w.until(secs(3599))).is_empty());
    assert_eq!(
        prunes(&w.until(secs(3600))),
        [secs(3600) - chrono::Duration::days(30)]
    );
}
