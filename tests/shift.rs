//! Pushes to staff on duty over a real server (docs/protocol.md, "Pushes to staff"): a staff
//! session gets the state when it signs in, a push when a visitor queues and when they leave,
//! and never more than one push per two seconds under a burst of visitors.
//!
//! Run on ejabberd too: `HELPIM_TEST_XMPP=ejabberd cargo test --test shift`.

mod support;

use std::time::{Duration, Instant};

use helpim_bot::store::{Enqueued, Store};
use helpim_bot::xmpp::SessionEvent;
use xmpp_parsers::minidom::Element;

use support::*;

const NS_STAFF: &str = "urn:helpim:staff:0";

/// How much shorter than the bot's two seconds a gap between two pushes may look when measured
/// at their arrival: the bot sends them at least 2 s apart by its own clock (a timer never fires
/// early), and a measured gap shrinks only by how much longer the first of the pair took from
/// the bot through the server to the test's client than the second. On two shared cores under a
/// full test run that delivery takes well under 300 ms; a bot that merely sent on every change
/// would put pushes of a 200 ms burst far closer than that.
const ARRIVAL_TOLERANCE: Duration = Duration::from_millis(300);

/// The next `<shift/>` pushed to `person` that satisfies `want`, with when it arrived; the
/// pushes before it are returned too (arrival time, payload), oldest first.
async fn shift_where(
    person: &mut Person,
    want: impl Fn(&Element) -> bool,
    seen: &mut Vec<(Instant, Element)>,
) -> Element {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline.into(), person.events.recv()).await {
            Ok(Some(SessionEvent::OtherMessage(m))) => {
                let Some(shift) = m.payloads.iter().find(|p| p.is("shift", NS_STAFF)) else {
                    continue;
                };
                seen.push((Instant::now(), shift.clone()));
                if want(shift) {
                    return shift.clone();
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!(
                "{} was never pushed the shift wanted; pushes seen: {:?}",
                person.user,
                seen.iter()
                    .map(|(_, e)| String::from(e))
                    .collect::<Vec<_>>()
            ),
        }
    }
}

fn visitors(shift: &Element) -> Vec<String> {
    shift
        .children()
        .filter(|c| c.is("visitor", NS_STAFF))
        .map(|c| c.attr("nick").unwrap_or_default().to_string())
        .collect()
}

async fn queued(store: &Store, visitor: &str, nick: &str, topic: &str) -> i64 {
    match store
        .enqueue(visitor, None, nick, Some(topic), 100)
        .await
        .unwrap()
    {
        Enqueued::Queued(id) => id,
        other => panic!("{visitor} not queued: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_on_duty_are_pushed_the_queue_as_it_changes_at_most_every_two_seconds() {
    let server = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let bot = RunningBot::start(bot_config(&server, &db), store.clone());
    wait_ready_rooms(&store, 2).await;

    // Signing in: the state at once.
    let mut staff = Person::connect_as(&server, "staff", "console").await;
    staff.present_to_bot();
    let mut seen = Vec::new();
    let first = shift_where(&mut staff, |_| true, &mut seen).await;
    assert_eq!(first.attr("open"), Some("true"));
    assert_eq!(first.attr("staff-on-duty"), Some("1"));
    assert_eq!(first.attr("queue-length"), Some("0"));
    assert!(visitors(&first).is_empty());

    // A visitor queues (over the web application's SQL): pushed, with their topic.
    let sam = queued(&store, "visitor-sam", "Sam", "money worries").await;
    let pushed = shift_where(&mut staff, |s| visitors(s) == ["Sam"], &mut seen).await;
    let v = pushed.get_child("visitor", NS_STAFF).unwrap();
    assert_eq!(v.attr("topic"), Some("money worries"));
    assert_eq!(v.attr("id"), Some(sam.to_string().as_str()));
    assert!(v.attr("waiting-since").is_some_and(|t| t.ends_with('Z')));
    assert_eq!(pushed.attr("queue-length"), Some("1"));
    // They leave: pushed again, nobody waiting.
    assert!(store.leave_queue(sam).await.unwrap());
    shift_where(
        &mut staff,
        |s| visitors(s).is_empty() && s.attr("queue-length") == Some("0"),
        &mut seen,
    )
    .await;

    // A burst: twenty visitors, one every 150 ms (a pace, not a wait for a result), so that
    // the queue changes at every sweep for three seconds.
    // They are queued by a task of their own while this one reads the pushes as they arrive
    // (the arrival times are taken as they are read).
    let burst = seen.len();
    let started = Instant::now();
    let queueing = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                queued(&store, &format!("visitor-{i}"), &format!("V{i}"), "talk").await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            started.elapsed()
        })
    };
    shift_where(&mut staff, |s| visitors(s).len() == 20, &mut seen).await;
    let took = queueing.await.unwrap();
    // Then one more change, so that any push still held back would have come before it.
    let last = queued(&store, "visitor-last", "Last", "talk").await;
    shift_where(&mut staff, |s| visitors(s).len() == 21, &mut seen).await;
    store.leave_queue(last).await.unwrap();
    let pushes = &seen[burst..];
    let gaps: Vec<Duration> = pushes.windows(2).map(|p| p[1].0 - p[0].0).collect();
    eprintln!(
        "burst queued in {took:?}; {} pushes, gaps {gaps:?}",
        pushes.len()
    );
    for pair in pushes.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap + ARRIVAL_TOLERANCE >= Duration::from_secs(2),
            "two pushes {gap:?} apart during a burst queued in {took:?}"
        );
    }
    // The burst was coalesced: a push per row would be 22; at most one per 2 s of the burst,
    // then the list that holds all twenty (the figures may go a push ahead of the list), then
    // the twenty-first.
    assert!(
        pushes.len() as u64 <= took.as_secs() / 2 + 4,
        "{} pushes for a burst queued in {took:?}",
        pushes.len()
    );
    bot.stop().await.unwrap();
}
