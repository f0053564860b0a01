//! Pushes to staff on duty over a real server (docs/protocol.md, "Pushes to staff"): a staff
//! session gets the state when it signs in, a push when a visitor queues and when they leave,
//! and never more than one push per two seconds under a burst of visitors.
//!
//! Run on ejabberd too: `HELPIM_TEST_XMPP=ejabberd cargo test --test shift`.

mod support;

use std::str::FromStr;
use std::time::{Duration, Instant};

use helpim_bot::store::{Enqueued, Store};
use helpim_bot::xmpp::{IqError, SessionEvent};
use xmpp_parsers::jid::Jid;
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

const STAFF_ROOM: &str = "staffroom@conference.localhost";

/// The features the MUC service shows of `room` (disco#info), or the error's condition (the
/// room does not exist yet).
async fn room_features(person: &Person, room: &str) -> Result<Vec<String>, IqError> {
    let iq = xmpp_parsers::iq::Iq::Get {
        from: None,
        to: Some(Jid::from_str(room).unwrap()),
        id: String::new(),
        payload: Element::builder("query", "http://jabber.org/protocol/disco#info").build(),
    };
    let info = person
        .session
        .iq(iq)
        .await?
        .expect("disco#info has a payload");
    Ok(info
        .children()
        .filter(|c| c.name() == "feature")
        .filter_map(|c| c.attr("var").map(str::to_string))
        .collect())
}

/// Asks `status` until `open` says `want`.
async fn line_open(person: &Person, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = person.command("status", &[]).await.unwrap();
        let open = field(&answer, "open");
        if open.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the line never said open={want}: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The staff room on a real server: the bot creates it members-only and persistent; a staff
/// member can join, reads the bot's posts, and being inside opens the line; someone who is
/// not staff is refused by the server. In pick mode a visitor nobody took is re-offered there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staff_room_is_members_only_opens_the_line_and_carries_the_bots_posts() {
    let server = XmppServer::start();
    let db = TestDb::sqlite();
    let store = db.store().await;
    let mut config = bot_config(&server, &db);
    config.staff.room = STAFF_ROOM.into();
    config.queue.assign = helpim_bot::config::Assign::Pick;
    // Longer than a new visitor can take to reach a push (at worst twice the 2 s plus a sweep),
    // so that the first push with them is before the re-offer.
    config.queue.reoffer_after = Duration::from_secs(8);
    let bot = RunningBot::start(config, store.clone());

    // The room appears, configured members-only and persistent. (Nobody else may join before:
    // a join would create the room as theirs.)
    let mut staff = Person::connect(&server, "staff").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let features = loop {
        if let Ok(f) = room_features(&staff, STAFF_ROOM).await {
            if f.iter().any(|v| v == "muc_membersonly") {
                break f;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the bot never made the staff room"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        features.iter().any(|v| v == "muc_persistent"),
        "{features:?}"
    );
    assert!(
        !features.iter().any(|v| v == "muc_passwordprotected"),
        "{features:?}"
    );

    // Nobody on duty: closed. A staff member inside the staff room: open.
    let other = Person::connect(&server, "staff2").await;
    line_open(&other, "false").await;
    // The member list is set right after the configuration: a member refused meanwhile tries
    // again (the room exists, so a join cannot create it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = staff.join(STAFF_ROOM, "Kim", "").await {
        assert!(
            Instant::now() < deadline,
            "a member may join: {e:?}; server log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    line_open(&other, "true").await;

    // Someone who is not staff is refused by the server.
    let mut eve = Person::connect(&server, "eve").await;
    match eve.join(STAFF_ROOM, "Eve", "").await {
        Err(IqError::Error(condition)) => assert_eq!(condition, "registration-required"),
        other => panic!("a non-member got in: {other:?}"),
    }

    // A console present to the bot too, for the pushes.
    let mut console = Person::connect_as(&server, "staff3", "console").await;
    console.present_to_bot();
    let mut seen = Vec::new();
    shift_where(&mut console, |s| s.attr("mode") == Some("pick"), &mut seen).await;

    // A visitor queues: the bot posts it; eight seconds later nobody took them: re-offered in
    // the staff room, and marked in the push.
    let queued_at = Instant::now();
    queued(&store, "visitor-sam", "Sam", "money worries").await;
    staff
        .heard(STAFF_ROOM, "Sam is waiting: money worries")
        .await;
    let pushed = shift_where(&mut console, |s| visitors(s) == ["Sam"], &mut seen).await;
    let sam = pushed.get_child("visitor", NS_STAFF).unwrap();
    assert_eq!(sam.attr("reoffer"), None, "not before reoffer_after");
    staff
        .heard(
            STAFF_ROOM,
            "Sam has waited 8 seconds and nobody has taken them yet",
        )
        .await;
    assert!(queued_at.elapsed() >= Duration::from_secs(8));
    let pushed = shift_where(
        &mut console,
        |s| {
            s.get_child("visitor", NS_STAFF)
                .is_some_and(|v| v.attr("reoffer") == Some("true"))
        },
        &mut seen,
    )
    .await;
    assert_eq!(visitors(&pushed), ["Sam"]);
    bot.stop().await.unwrap();
}
