//! Opening hours on the simulated clock: closed outside them whoever is on duty, the reason and
//! the next opening told on arrival, the queue closed to newcomers at closing time, those waiting
//! told before and served after.

use super::harness::*;
use super::*;
use crate::core::Input;
use crate::xmpp::stanza::PresenceKind;

/// The test settings with the help line open 09:00–17:00 UTC every day (the clock starts at
/// 08:00 UTC) and a ten-minute closing warning.
fn field<'a>(xml: &'a str, var: &str) -> Option<&'a str> {
    let at = xml.find(&format!("var='{var}'"))?;
    let rest = &xml[at..];
    let end = rest.find("</field>").unwrap_or(rest.len());
    let value = rest[..end].split("<value>").nth(1)?;
    value.split("</value>").next()
}

#[test]
fn outside_the_hours_a_visitor_hears_closed_and_when_it_opens_whoever_is_on_duty() {
    assert_eq!(secs(0).to_rfc3339(), "2027-01-15T08:00:00+00:00");
    let mut w = world_with(with_hours());
    w.input(Input::Online { fresh: true });
    w.direct("staff@localhost/console", PresenceKind::Available);
    assert_eq!(w.core.staff_on_duty(), 1);
    let status = w.command("v@anon.localhost/1", "line-status", &[]);
    let answer = &sent(&status)[0];
    assert_eq!(field(answer, "status"), Some("closed"), "{answer}");
    assert_eq!(field(answer, "reason"), Some("outside-hours"));
    assert_eq!(field(answer, "next-opening"), Some("2027-01-15T09:00:00Z"));
    let line = w.core.line_status(w.now);
    assert_eq!(line.next_opening, Some(secs(3600)));
    // request-chat is refused the same way, without asking the store.
    let e = w.command("v@anon.localhost/1", "request-chat", &[("nick", "Sam")]);
    assert!(queries(&e).is_empty(), "{e:?}");
    let answer = &sent(&e)[0];
    assert_eq!(field(answer, "status"), Some("closed"), "{answer}");
    assert_eq!(field(answer, "reason"), Some("outside-hours"));
    // At 09:00 it opens.
    w.until(secs(3600));
    let status = w.command("v@anon.localhost/1", "line-status", &[]);
    let answer = &sent(&status)[0];
    assert_eq!(field(answer, "status"), Some("open"), "{answer}");
    assert_eq!(field(answer, "reason"), None);
}

#[test]
fn within_the_hours_nobody_on_duty_is_closed_for_no_staff() {
    let mut w = world_with(with_hours());
    w.input(Input::Online { fresh: true });
    w.until(secs(3600));
    let answer = sent(&w.command("v@anon.localhost/1", "line-status", &[]))[0].clone();
    assert_eq!(field(&answer, "reason"), Some("no-staff"), "{answer}");
    assert_eq!(field(&answer, "next-opening"), None);
}

#[test]
fn those_waiting_are_told_before_closing_once_and_newcomers_are_refused_after() {
    let mut w = world_with(with_hours());
    w.input(Input::Online { fresh: true });
    w.direct("staff@localhost/console", PresenceKind::Available);
    // 16:49: two visitors wait over XMPP.
    w.until(secs(8 * 3600 + 49 * 60));
    w.store.wait(Some("a@anon.localhost/1"), "a", w.now);
    w.store.wait(Some("b@anon.localhost/2"), "b", w.now);
    let e = w.until(secs(8 * 3600 + 49 * 60 + 6));
    assert!(
        sent(&e).iter().all(|m| !m.contains("closes-in")),
        "not yet: {:?}",
        sent(&e)
    );
    // 16:50: within the ten-minute warning, each hears it at the next read of the places.
    let e = w.until(secs(8 * 3600 + 50 * 60 + 6));
    let told: Vec<String> = sent(&e)
        .into_iter()
        .filter(|m| m.contains("closes-in"))
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].contains("The help line closes in 10 minutes; you will still be helped."),
        "{}",
        told[0]
    );
    // Told once: nothing new while their places stay the same.
    let e = w.until(secs(8 * 3600 + 52 * 60));
    assert!(sent(&e).is_empty(), "{:?}", sent(&e));
    // 17:00: closed to newcomers, while those waiting stay in line.
    w.until(secs(9 * 3600));
    let e = w.command("c@anon.localhost/3", "request-chat", &[("nick", "Cem")]);
    assert_eq!(field(&sent(&e)[0], "reason"), Some("outside-hours"));
    assert_eq!(w.core.queue().0, 2);
}
