#!/usr/bin/env python3
"""What a help line's web application does with helpim-bot's database (PostgreSQL).

    python3 examples/webapp.py postgres://user@host/db

1. claims a room for a staff member and prints its JID and password (the web app would hand
   them to the staff member's chat client);
2. follows the room with LISTEN helpim_rooms: no polling;
3. once the staff member is inside, claims the room for a client and prints JID and password;
4. reads the transcript from a position each time the room changes, so a client that reconnects
   only fetches what it missed, until the room is closed.

Needs psycopg2 (Debian: python3-psycopg2). The SQL is the contract of docs/database.md, with
psycopg2's %s placeholders in place of $1.
"""
import json
import select
import sys

import psycopg2

CLAIM_STAFF = """
UPDATE rooms SET staff_claimed_at = now(), staff_claim = %s
WHERE id = (SELECT id FROM rooms
            WHERE status = 'available' AND staff_claimed_at IS NULL
            ORDER BY created_at, id LIMIT 1
            FOR UPDATE SKIP LOCKED)
  AND status = 'available' AND staff_claimed_at IS NULL
RETURNING id, jid, password"""

CLAIM_CLIENT = """
UPDATE rooms SET client_claimed_at = now(), client_claim = %s
WHERE id = (SELECT id FROM rooms
            WHERE status = 'staffed' AND client_claimed_at IS NULL
            ORDER BY staffed_at, id LIMIT 1
            FOR UPDATE SKIP LOCKED)
  AND status = 'staffed' AND client_claimed_at IS NULL
RETURNING id, jid, password"""

TRANSCRIPT_AFTER = "SELECT seq, at, nick, role, body FROM messages WHERE room_id = %s AND seq > %s ORDER BY seq"


def say(*words):
    print(*words, flush=True)


def claim(db, sql, label):
    """One statement: a room nobody else can get, or None when none is free."""
    with db.cursor() as cur:
        cur.execute(sql, (label,))
        return cur.fetchone()


def main(url):
    db = psycopg2.connect(url)
    db.autocommit = True  # each claim is its own transaction; LISTEN works at once
    with db.cursor() as cur:
        cur.execute("LISTEN helpim_rooms")

    room = None
    while room is None:  # the pool may be refilling
        room = claim(db, CLAIM_STAFF, "staff-42")
        if room is None:
            select.select([db], [], [], 0.5)
    room_id, jid, password = room
    say("STAFF_ROOM", jid, password)

    last_seq = 0
    while True:
        if select.select([db], [], [], 60) == ([], [], []):
            sys.exit("no news for 60 s")
        db.poll()
        for note in db.notifies:
            event = json.loads(note.payload)
            if event["room_id"] != room_id:
                continue  # another room
            say("STATUS", event["status"], event["reason"])
            if event["status"] == "staffed":
                _, cjid, cpassword = claim(db, CLAIM_CLIENT, "visitor-7")
                say("CLIENT_ROOM", cjid, cpassword)
            with db.cursor() as cur:  # only what is new since last time
                cur.execute(TRANSCRIPT_AFTER, (room_id, last_seq))
                for seq, at, nick, role, body in cur.fetchall():
                    say("MESSAGE", seq, role, f"{nick}: {body}")
                    last_seq = seq
            if event["status"] == "closed":
                return
        db.notifies.clear()


if __name__ == "__main__":
    main(sys.argv[1])
