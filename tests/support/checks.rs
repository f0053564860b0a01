//! Waiting for rows to reach a state, and checking that the database and the server agree.

use std::str::FromStr;
use std::time::{Duration, Instant};

use helpim_bot::core::types::Status;
use helpim_bot::store::{ClaimKind, ClaimedRoom, RoomRow, Store};
use helpim_bot::xmpp::stanza;
use helpim_bot::xmpp::IqError;
use xmpp_parsers::jid::{BareJid, Jid};

use super::{wait_for, Person};

/// Waits until queue row `id` has `status`; returns its state.
pub async fn wait_queue(store: &Store, id: i64, status: &str) -> helpim_bot::store::QueueState {
    wait_for(
        Duration::from_secs(15),
        &format!("queue row {id} to be {status}"),
        || {
            let store = store.clone();
            async move {
                let state = store.queue_state(id).await.unwrap()?;
                (state.status == status).then_some(state)
            }
        },
    )
    .await
}

/// Waits until the room `jid` has status `status`, returning its row.
pub async fn wait_status(store: &Store, jid: &str, status: Status) -> RoomRow {
    wait_for(
        Duration::from_secs(15),
        &format!("{jid} to be {status}"),
        || {
            let store = store.clone();
            let jid = jid.to_string();
            async move {
                let row = store.room(&jid).await.unwrap();
                row.filter(|r| r.status == status)
            }
        },
    )
    .await
}

/// Waits until at least `n` rooms are `available` and unclaimed; returns them.
pub async fn wait_ready_rooms(store: &Store, n: usize) -> Vec<RoomRow> {
    wait_for(Duration::from_secs(20), &format!("{n} ready rooms"), || {
        let store = store.clone();
        async move {
            let rows: Vec<RoomRow> = store
                .rooms(false)
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.status == Status::Available && r.staff_claim.is_none())
                .collect();
            (rows.len() >= n).then_some(rows)
        }
    })
    .await
}

/// Claims a room as the web application does, waiting for the pool to have one.
pub async fn claim(store: &Store, kind: ClaimKind, label: &str) -> ClaimedRoom {
    wait_for(
        Duration::from_secs(20),
        &format!("a {kind:?} claim"),
        || {
            let store = store.clone();
            let label = label.to_string();
            async move { store.claim(kind, &label).await.unwrap() }
        },
    )
    .await
}

/// True when `room` exists on the server (disco#info answers), false on `item-not-found`.
/// ejabberd leaves a disco#info to a room it is destroying unanswered: a timeout is asked again
/// (three times at most).
pub async fn room_exists(inspector: &Person, room: &str) -> bool {
    for _ in 0..3 {
        match room_answer(inspector, room).await {
            Ok(exists) => return exists,
            Err(IqError::Timeout) => continue,
            Err(e) => panic!("disco#info on {room} failed: {e}"),
        }
    }
    panic!("disco#info on {room}: no answer three times")
}

/// [`room_exists`], with the error when the room gave no answer (ejabberd leaves a room that is
/// being destroyed unanswered).
pub async fn room_answer(inspector: &Person, room: &str) -> Result<bool, IqError> {
    let iq = xmpp_parsers::iq::Iq::Get {
        from: None,
        to: Some(Jid::from_str(room).unwrap()),
        id: String::new(),
        payload: xmpp_parsers::minidom::Element::builder(
            "query",
            "http://jabber.org/protocol/disco#info",
        )
        .build(),
    };
    match inspector.session.iq(iq).await {
        Ok(_) => Ok(true),
        Err(IqError::Error(condition)) if condition == "item-not-found" => Ok(false),
        Err(e) => Err(e),
    }
}

/// The invariants between the database and the server: every room that is not closed exists,
/// and no closed room is left on the server. A room whose row was just closed is destroyed a
/// moment later, so the check is repeated for up to 5 s before it fails.
pub async fn assert_rows_match_server(store: &Store, inspector: &Person) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mismatches = rows_not_matching_server(store, inspector).await;
        if mismatches.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the database and the server disagree after 5 s: {mismatches:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The rooms whose row and presence on the server disagree, each with a sentence saying how.
pub async fn rows_not_matching_server(store: &Store, inspector: &Person) -> Vec<String> {
    let mut out = Vec::new();
    for row in store.rooms(true).await.unwrap() {
        let exists = room_exists(inspector, &row.jid).await;
        if row.status == Status::Closed && exists {
            out.push(format!(
                "{} is closed ({:?}) but still on the server",
                row.jid, row.close_reason
            ));
        } else if row.status != Status::Closed && !exists {
            out.push(format!(
                "{} is {} in the database but not on the server",
                row.jid, row.status
            ));
        }
    }
    out
}

/// Waits (15 s at most: the bot destroys the room right after it writes the row) until
/// `room` is gone from the server, then checks with a fresh join by an admin that it no longer
/// exists: the join creates it anew (status 201). The new room is removed again.
pub async fn assert_room_gone(inspector: &mut Person, room: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while room_answer(inspector, room).await != Ok(false) {
        assert!(
            Instant::now() < deadline,
            "{room} is still on the server after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let joined = inspector
        .join(room, "inspector", "")
        .await
        .unwrap_or_else(|e| panic!("the inspector's join of {room} failed: {e}"));
    assert!(
        joined.own.has(stanza::STATUS_CREATED),
        "{room} still existed on the server (join answered without 201: {:?})",
        joined.own.codes
    );
    let room = BareJid::from_str(room).unwrap();
    inspector
        .session
        .send(stanza::leave(&room, "inspector").unwrap());
}
