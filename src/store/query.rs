//! The store's side of the core's [`Query`]s: each one mapped to its statements (the SQL lives in
//! [`super::sql`], once per dialect), its rows turned into the core's [`QueryResult`]. Beside
//! [`crate::writer`]'s writes, this is the one place the core's questions meet the database.

use super::{Answers, Assignment, ClaimKind, Enqueued, Store};
use crate::core::effects::{Assigned, Query, QueryResult, Waiter};

impl Store {
    /// Answers one query of the core.
    pub async fn query(&self, query: &Query) -> sqlx::Result<QueryResult> {
        let store = self;
        match query {
            Query::Claims(jid) => store.claims(jid).await.map(QueryResult::Claims),
            Query::OpenClaims => store.open_claims().await.map(QueryResult::OpenClaims),
            Query::Assign => {
                let a = store.assign_next().await?;
                Ok(QueryResult::Assigned(store.with_answers(a).await?))
            }
            Query::SweepQueue {
                max_wait,
                visitor_timeout,
                return_grace,
                places,
            } => store
                .sweep_queue(*max_wait, *visitor_timeout, *return_grace, *places)
                .await
                .map(QueryResult::Swept),
            Query::Enqueue {
                label,
                jid,
                nick,
                topic,
                max_length,
                priority,
                priority_reason,
                answers,
                unanswered,
            } => {
                let answered = Answers {
                    priority: *priority,
                    reason: priority_reason.as_deref(),
                    answers,
                    unanswered: *unanswered,
                };
                let outcome = store
                    .enqueue_answered(
                        label,
                        Some(jid),
                        nick,
                        topic.as_deref(),
                        *max_length,
                        &answered,
                    )
                    .await?;
                let position = match outcome {
                    Enqueued::Queued(id) | Enqueued::AlreadyQueued(id) => store
                        .queue_state(id)
                        .await?
                        .map_or(0, |state| state.position),
                    Enqueued::Blocked | Enqueued::Full | Enqueued::Unanswered => 0,
                };
                Ok(QueryResult::Enqueued(outcome, position))
            }
            Query::LeaveQueue(jid) => store.leave_queue_by_jid(jid).await.map(QueryResult::Left),
            Query::Resume { label, jid } => store.resume(label, jid).await.map(QueryResult::Room),
            Query::TakeChat(label) => store
                .claim(ClaimKind::Staff, label)
                .await
                .map(|room| QueryResult::Room(room.map(|r| r.jid))),
            Query::WaitingList => store.waiting().await.map(|list| {
                QueryResult::WaitingList(
                    list.into_iter()
                        .map(|w| Waiter {
                            id: w.id,
                            nick: w.nick,
                            topic: w.topic,
                            since: w.enqueued_at,
                            priority: w.priority,
                            why: w.priority_reason,
                        })
                        .collect(),
                )
            }),
            Query::Pick { room, queue_id } => {
                let a = store.pick(room, *queue_id).await?;
                Ok(QueryResult::Assigned(store.with_answers(a).await?))
            }
            Query::VisitorTopic(room) => store.visitor_topic(room).await.map(QueryResult::Topic),
            Query::BlockVisitor {
                room,
                until,
                reason,
                by,
            } => store
                .block_room_visitor(room, *until, reason, by)
                .await
                .map(QueryResult::Blocked),
            Query::LiveChats { room } => store
                .live_chats(room.as_deref())
                .await
                .map(QueryResult::LiveChats),
            Query::Transcript { room, upto } => store
                .lines_upto(room, *upto)
                .await
                .map(QueryResult::Transcript),
            Query::EndedChats { staff, since } => store
                .ended_chats(staff, *since)
                .await
                .map(QueryResult::EndedChats),
            Query::Register {
                room,
                staff,
                since,
                at,
                answers,
            } => store
                .register(room, staff, *since, *at, answers)
                .await
                .map(QueryResult::Stored),
            Query::Feedback {
                room,
                label,
                since,
                at,
                answers,
            } => store
                .feedback(room, label, *since, *at, answers)
                .await
                .map(QueryResult::Stored),
        }
    }
}

impl Store {
    /// An assignment as the core sees it, with the visitor's answers to the questions before
    /// the chat (for the staff member they are coming to).
    async fn with_answers(&self, a: Option<Assignment>) -> sqlx::Result<Option<Assigned>> {
        let Some(a) = a else {
            return Ok(None);
        };
        let answers = self.queue_answers(a.queue_id).await?;
        Ok(Some(assigned(a, answers)))
    }
}

/// An assignment as the core sees it.
fn assigned(a: Assignment, answers: Vec<(String, String)>) -> Assigned {
    Assigned {
        queue_id: a.queue_id,
        visitor_jid: a.visitor_jid,
        room: a.room_jid,
        client_claimed_at: a.client_claimed_at,
        nick: a.nick,
        topic: a.topic,
        waiting_since: a.waiting_since,
        priority: a.priority,
        why: a.priority_reason,
        answers,
    }
}
