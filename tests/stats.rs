//! `helpim-bot stats` on SQLite and on PostgreSQL, against rows whose figures are known: chats,
//! visitors who left, expired or missed, waiting times and chat durations (nearest-rank p50/p90,
//! max), rooms closed by reason, blocks, watches, whispers and requests for help, handovers (and
//! those done); chats with priority, the answers before the chat kept for statistics, the
//! registrations' choices and the chats ended without one, the visitors' feedback (SPEC §14); per
//! day, per hour and in total; as JSON, CSV and text; and `--by staff`.

mod support;

use serde_json::{json, Value};
use support::*;

/// Two days of a help line (1 and 2 November 2026, UTC) and a little before and after, written
/// as the bot and the web application would have left them. Literal times read as `TIMESTAMPTZ`
/// on PostgreSQL and as ISO text on SQLite, so the same script fills both.
const ROWS: &str = "
INSERT INTO rooms (id, jid, password, status, created_at, status_changed_at, busy_at, closed_at, close_reason) VALUES
 (1, 'r1@c', 'p', 'closed', '2026-11-01T09:00:00.000Z', '2026-11-01T10:10:00.000Z', '2026-11-01T10:00:00.000Z', '2026-11-01T10:10:00.000Z', 'all_left'),
 (2, 'r2@c', 'p', 'closed', '2026-11-01T09:00:00.000Z', '2026-11-01T11:30:00.000Z', '2026-11-01T11:00:00.000Z', '2026-11-01T11:30:00.000Z', 'idle_timeout'),
 (3, 'r3@c', 'p', 'closed', '2026-11-01T09:00:00.000Z', '2026-11-01T12:05:00.000Z', '2026-11-01T12:00:00.000Z', '2026-11-01T12:05:00.000Z', 'all_left'),
 (4, 'r4@c', 'p', 'busy',   '2026-11-02T08:00:00.000Z', '2026-11-02T09:00:00.000Z', '2026-11-02T09:00:00.000Z', NULL, NULL),
 (5, 'r5@c', 'p', 'closed', '2026-11-02T07:00:00.000Z', '2026-11-02T08:00:00.000Z', NULL, '2026-11-02T08:00:00.000Z', 'claim_timeout'),
 (6, 'r6@c', 'p', 'closed', '2026-10-31T22:00:00.000Z', '2026-11-01T00:30:00.000Z', '2026-10-31T23:00:00.000Z', '2026-11-01T00:30:00.000Z', 'all_left'),
 (7, 'r7@c', 'p', 'available', '2026-11-02T10:00:00.000Z', '2026-11-02T10:00:00.000Z', NULL, NULL, NULL);
INSERT INTO queue (visitor, nick, enqueued_at, last_seen_at, status, status_changed_at, room_id, reason) VALUES
 ('v1', 'a', '2026-11-01T09:59:00.000Z', '2026-11-01T10:00:00.000Z', 'served', '2026-11-01T10:00:00.000Z', 1, NULL),
 ('v2', 'b', '2026-11-01T10:58:00.000Z', '2026-11-01T11:00:00.000Z', 'served', '2026-11-01T11:00:00.000Z', 2, NULL),
 ('v3', 'c', '2026-11-01T11:59:30.000Z', '2026-11-01T12:00:00.000Z', 'served', '2026-11-01T12:00:00.000Z', 3, NULL),
 ('v4', 'd', '2026-11-01T12:50:00.000Z', '2026-11-01T13:00:00.000Z', 'served', '2026-11-01T13:00:00.000Z', 3, NULL),
 ('v5', 'e', '2026-11-02T08:59:15.000Z', '2026-11-02T09:00:00.000Z', 'served', '2026-11-02T09:00:00.000Z', 4, NULL),
 ('v6', 'f', '2026-11-01T14:00:00.000Z', '2026-11-01T14:05:00.000Z', 'left', '2026-11-01T14:05:00.000Z', NULL, 'left'),
 ('v7', 'g', '2026-11-01T15:00:00.000Z', '2026-11-01T15:01:00.000Z', 'left', '2026-11-01T15:01:00.000Z', NULL, 'offline'),
 ('v8', 'h', '2026-11-02T10:00:00.000Z', '2026-11-02T11:00:00.000Z', 'expired', '2026-11-02T11:00:00.000Z', NULL, 'max_wait'),
 ('v9', 'i', '2026-11-02T12:00:00.000Z', '2026-11-02T12:06:00.000Z', 'missed', '2026-11-02T12:06:00.000Z', 7, 'claim_timeout'),
 ('v10', 'j', '2026-11-02T13:00:00.000Z', '2026-11-02T13:00:00.000Z', 'waiting', '2026-11-02T13:00:00.000Z', NULL, NULL),
 ('v11', 'k', '2026-10-31T10:00:00.000Z', '2026-10-31T10:05:00.000Z', 'served', '2026-10-31T10:05:00.000Z', 6, NULL);
INSERT INTO handovers (room_id, from_jid, to_jid, taken_by, note, offered_at, ended_at, outcome) VALUES
 (1, 'kim@l', 'alex@l', NULL, NULL, '2026-11-01T10:05:00.000Z', '2026-11-01T10:05:30.000Z', 'done'),
 (2, 'kim@l', NULL, 'bob@l', 'shift ends', '2026-11-01T11:10:00.000Z', '2026-11-01T11:11:00.000Z', 'done'),
 (3, 'kim@l', 'alex@l', NULL, NULL, '2026-11-01T12:01:00.000Z', '2026-11-01T12:02:00.000Z', 'expired'),
 (4, 'kim@l', 'alex@l', NULL, NULL, '2026-11-02T09:10:00.000Z', NULL, NULL),
 (6, 'kim@l', NULL, NULL, NULL, '2026-10-31T23:10:00.000Z', '2026-10-31T23:11:00.000Z', 'declined');
INSERT INTO blocked (visitor, at, until, reason, by) VALUES
 ('v12', '2026-11-01T16:00:00.000Z', NULL, 'abuse', 'staff'),
 ('v13', '2026-11-01T17:00:00.000Z', '2026-11-08T17:00:00.000Z', 'abuse', 'staff'),
 ('v14', '2026-11-03T09:00:00.000Z', NULL, 'abuse', 'staff');
INSERT INTO supervision (room_id, kind, jid, at) VALUES
 (1, 'watch', 'sup@x', '2026-11-01T10:01:00.000Z'),
 (1, 'whisper', 'sup@x', '2026-11-01T10:02:00.000Z'),
 (1, 'help', 'staff@x', '2026-11-01T10:03:00.000Z'),
 (4, 'watch', 'sup@x', '2026-11-02T09:05:00.000Z'),
 (4, 'watch', 'sup@x', '2026-11-03T09:05:00.000Z');
INSERT INTO notes (room_id, jid, kind, text, at) VALUES
 (1, 'sup@x', 'whisper', 'ask about sleep', '2026-11-01T10:02:00.000Z');
UPDATE rooms SET staff_jid = 'kim@l' WHERE id IN (1, 2, 4);
UPDATE rooms SET staff_jid = 'alex@l' WHERE id IN (3, 6);
UPDATE queue SET priority = 1, priority_reason = 'Are you safe right now?: No'
WHERE visitor IN ('v2', 'v5', 'v6', 'v9');
INSERT INTO queue_answers (queue_id, question, answer, kept)
SELECT id, 'safe', 'yes', TRUE FROM queue WHERE visitor IN ('v1', 'v8', 'v11');
INSERT INTO queue_answers (queue_id, question, answer, kept)
SELECT id, 'safe', 'no', TRUE FROM queue WHERE visitor IN ('v2', 'v6');
INSERT INTO queue_answers (queue_id, question, answer, kept)
SELECT id, 'age', 'young', TRUE FROM queue WHERE visitor = 'v1';
INSERT INTO queue_answers (queue_id, question, answer, kept)
SELECT id, 'age', 'old', FALSE FROM queue WHERE visitor = 'v2';
INSERT INTO registrations (room_id, staff, created_at) VALUES
 (1, 'kim@l', '2026-11-01T10:15:00.000Z'),
 (2, 'kim@l', '2026-11-01T11:35:00.000Z'),
 (6, 'alex@l', '2026-11-01T00:40:00.000Z');
INSERT INTO registration_answers (registration_id, question, answer, kept)
SELECT g.id, a.question, a.answer, a.kept FROM registrations g JOIN (
  SELECT 1 AS room_id, 'category' AS question, 'school' AS answer, TRUE AS kept
  UNION ALL SELECT 1, 'risk', 'low', TRUE
  UNION ALL SELECT 1, 'note', 'talked about exams', FALSE
  UNION ALL SELECT 2, 'category', 'home', TRUE
  UNION ALL SELECT 2, 'risk', 'high', TRUE
  UNION ALL SELECT 2, 'note', NULL, FALSE
  UNION ALL SELECT 6, 'category', 'school', TRUE
) a ON a.room_id = g.room_id;
INSERT INTO feedback (room_id, question, answer, created_at) VALUES
 (1, 'helped', 'yes', '2026-11-01T10:11:00.000Z'),
 (2, 'helped', 'no', '2026-11-01T11:31:00.000Z'),
 (3, 'helped', 'yes', '2026-11-01T12:06:00.000Z'),
 (4, 'helped', 'yes', '2026-11-02T09:30:00.000Z'),
 (6, 'helped', 'no', '2026-11-01T00:31:00.000Z');
";

/// Fills `db` (migrated) with [`ROWS`].
async fn fill(db: &TestDb) {
    db.run_script(ROWS).await;
}

/// Runs `helpim-bot stats` on `db` for 1 and 2 November with `extra` arguments; its output.
fn stats(db: &TestDb, extra: &[&str]) -> String {
    let mut args = vec![
        "stats",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-03T00:00:00Z",
        "--database-url",
        &db.url,
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run_cli(&args, &[]);
    assert_eq!(code, 0, "stats failed: {err}");
    out
}

async fn the_report_has_the_figures_the_rows_hold(db: TestDb) {
    fill(&db).await;
    let report: Value = serde_json::from_str(&stats(&db, &["--json"])).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let periods: Vec<&str> = rows.iter().map(|r| r["period"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2026-11-01", "2026-11-02"]);
    let expect_first = json!({
        "period": "2026-11-01", "chats": 3, "left": 2, "expired": 0, "missed": 0,
        // waits 30, 60, 120, 600 s
        "wait": {"count": 4, "p50": 60.0, "p90": 600.0, "max": 600.0},
        // the chats begun that day: 300, 600, 1800 s (r6 began the day before)
        "chat_duration": {"count": 3, "p50": 600.0, "p90": 1800.0},
        "closed": {"all_left": 3, "idle_timeout": 1},
        "blocks": 2, "watches": 1, "whispers": 1, "help_requests": 1,
        "handovers": 3, "handovers_done": 2,
        // v2's chat (r2); v6 had priority too but left
        "priority": 1,
        // by when they joined the queue: v1, v2, v6 (v2's unkept answer is not counted)
        "before": {"age": {"young": 1}, "safe": {"no": 2, "yes": 1}},
        // r1 and r2; r6 began the day before; the notes (free text) are never counted
        "registered": {"category": {"home": 1, "school": 1}, "risk": {"high": 1, "low": 1}},
        // r3
        "registrations_missing": 1,
        "feedback": {"helped": {"no": 1, "yes": 2}}
    });
    assert_eq!(rows[0], expect_first, "{report:#}");
    let expect_second = json!({
        "period": "2026-11-02", "chats": 1, "left": 0, "expired": 1, "missed": 1,
        "wait": {"count": 1, "p50": 45.0, "p90": 45.0, "max": 45.0},
        "chat_duration": null,
        "closed": {"claim_timeout": 1},
        "blocks": 0, "watches": 1, "whispers": 0, "help_requests": 0,
        "handovers": 1, "handovers_done": 0,
        // v5's chat (r4); v9 had priority but missed their room
        "priority": 1,
        "before": {"safe": {"yes": 1}},
        "registered": {},
        // r4 is still going
        "registrations_missing": 0,
        "feedback": {"helped": {"yes": 1}}
    });
    assert_eq!(rows[1], expect_second, "{report:#}");
    let expect_total = json!({
        "period": "total", "chats": 4, "left": 2, "expired": 1, "missed": 1,
        // waits 30, 45, 60, 120, 600 s
        "wait": {"count": 5, "p50": 60.0, "p90": 600.0, "max": 600.0},
        "chat_duration": {"count": 3, "p50": 600.0, "p90": 1800.0},
        "closed": {"all_left": 3, "claim_timeout": 1, "idle_timeout": 1},
        "blocks": 2, "watches": 2, "whispers": 1, "help_requests": 1,
        "handovers": 4, "handovers_done": 2,
        "priority": 2,
        "before": {"age": {"young": 1}, "safe": {"no": 2, "yes": 2}},
        "registered": {"category": {"home": 1, "school": 1}, "risk": {"high": 1, "low": 1}},
        "registrations_missing": 1,
        "feedback": {"helped": {"no": 1, "yes": 3}}
    });
    assert_eq!(report["total"], expect_total, "{report:#}");
    assert_eq!(report["since"], "2026-11-01T00:00:00Z");

    // Per hour: the chats of 1 November fall in their hours.
    let hourly: Value = serde_json::from_str(&stats(&db, &["--json", "--per", "hour"])).unwrap();
    let chats: Vec<(String, i64)> = hourly["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["chats"].as_i64().unwrap() > 0)
        .map(|r| {
            (
                r["period"].as_str().unwrap().to_string(),
                r["chats"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chats,
        [
            ("2026-11-01T10".to_string(), 1),
            ("2026-11-01T11".to_string(), 1),
            ("2026-11-01T12".to_string(), 1),
            ("2026-11-02T09".to_string(), 1)
        ]
    );

    // CSV for spreadsheets, text for people: the same figures.
    let csv = stats(&db, &["--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "period,chats,left,expired,missed,served,wait_p50_s,wait_p90_s,wait_max_s,chats_ended,chat_p50_s,chat_p90_s,blocks,watches,whispers,help_requests,handovers,handovers_done,priority,registrations_missing,closed_all_left,closed_claim_timeout,closed_idle_timeout,before:age=young,before:safe=no,before:safe=yes,registered:category=home,registered:category=school,registered:risk=high,registered:risk=low,feedback:helped=no,feedback:helped=yes",
            "2026-11-01,3,2,0,0,4,60.0,600.0,600.0,3,600.0,1800.0,2,1,1,1,3,2,1,1,3,0,1,1,2,1,1,1,1,1,1,2",
            "2026-11-02,1,0,1,1,1,45.0,45.0,45.0,0,,,0,1,0,0,1,0,1,0,0,1,0,0,0,1,0,0,0,0,0,1",
            "total,4,2,1,1,5,60.0,600.0,600.0,3,600.0,1800.0,2,2,1,1,4,2,2,1,3,1,1,1,2,2,1,1,1,1,1,3",
        ]
    );
    let text = stats(&db, &[]);
    let total = text.lines().last().unwrap();
    let cells: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "total", "4", "2", "1", "1", "1m00s", "10m00s", "10m00s", "10m00s", "30m00s", "2", "2",
            "1", "1", "4", "2", "2", "1", "3", "1", "1", "1", "2", "2", "1", "1", "1", "1", "1",
            "3"
        ],
        "{text}"
    );

    // Per staff member (the room's staff member; r6 began before the period): chats, minutes of
    // the chats that ended, chats ended without a registration. Counts only.
    let staff: Value = serde_json::from_str(&stats(&db, &["--by", "staff", "--json"])).unwrap();
    assert_eq!(
        staff["staff"],
        json!([
            {"staff": "alex@l", "chats": 1, "minutes": 5.0, "registrations_missing": 1},
            // r1 10 min, r2 30 min, r4 still going
            {"staff": "kim@l", "chats": 3, "minutes": 40.0, "registrations_missing": 0}
        ]),
        "{staff:#}"
    );
    assert_eq!(
        staff["total"],
        json!({"staff": "total", "chats": 4, "minutes": 45.0, "registrations_missing": 1})
    );
    assert_eq!(
        stats(&db, &["--by", "staff", "--csv"]),
        "staff,chats,minutes,registrations_missing\nalex@l,1,5.0,1\nkim@l,3,40.0,0\ntotal,4,45.0,1\n"
    );
    let text = stats(&db, &["--by", "staff"]);
    let cells: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        cells,
        [
            vec!["STAFF", "CHATS", "MINUTES", "UNREGISTERED"],
            vec!["alex@l", "1", "5", "1"],
            vec!["kim@l", "3", "40", "0"],
            vec!["total", "4", "45", "1"],
        ],
        "{text}"
    );

    // A period with nothing in it is an empty report, not an error.
    let (code, out, err) = run_cli(
        &[
            "stats",
            "--since",
            "2020-01-01",
            "--until",
            "2020-02-01",
            "--json",
            "--database-url",
            &db.url,
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let empty: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(empty["rows"], json!([]));
    assert_eq!(empty["total"]["chats"], 0);
}

#[tokio::test]
async fn the_report_has_the_figures_the_rows_hold_on_sqlite() {
    the_report_has_the_figures_the_rows_hold(TestDb::sqlite()).await;
}

#[tokio::test]
async fn the_report_has_the_figures_the_rows_hold_on_postgres() {
    the_report_has_the_figures_the_rows_hold(TestDb::postgres().await).await;
}

#[test]
fn a_wrong_period_is_refused_with_what_was_expected() {
    let db = TestDb::sqlite();
    let (code, _, err) = run_cli(
        &["stats", "--since", "yesterday", "--database-url", &db.url],
        &[],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("`yesterday` is neither a date (2026-11-01) nor an RFC 3339 time"),
        "{err}"
    );
    let (code, _, err) = run_cli(
        &[
            "stats",
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-01",
            "--database-url",
            &db.url,
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("--since must come before --until"), "{err}");
}
