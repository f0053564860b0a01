//! In the visitor's language (SPEC §12): the bot answers a command in its `xml:lang`, matched to
//! the catalogs by language tag and falling back to the help line's default, and pushes places
//! and sends the invitation in the language of the visitor's last request.

use std::sync::Arc;

use super::harness::*;
use super::*;
use crate::i18n::Catalogs;
use crate::xmpp::stanza::PresenceKind;

/// A full pool with a staff member on duty (in no room yet: nobody is about to be invited).
fn open_line() -> World {
    open_line_with(settings())
}

/// [`open_line`] with `settings`.
fn open_line_with(settings: Settings) -> World {
    let mut w = world_with(settings);
    w.input(crate::core::Input::Online { fresh: true });
    w.now = secs(1);
    w.direct("staff@localhost/console", PresenceKind::Available);
    w.now = secs(2);
    w
}

fn one(e: &[Event]) -> String {
    let out = sent(e);
    assert_eq!(out.len(), 1, "{out:?}");
    out[0].clone()
}

fn has(xml: &str, words: &str) {
    assert!(xml.contains(words), "{words:?} not in {xml}");
}

#[test]
fn a_request_in_dutch_gets_a_dutch_form_notes_and_errors() {
    let mut w = full_pool();
    w.now = secs(1);
    // Nobody on duty: closed, in Dutch (a Belgian visitor gets the Dutch catalog).
    let e = w.command_in("nl-BE", VISITOR, "request-chat", &[("nick", "Sam")]);
    has(
        &one(&e),
        "De hulplijn is gesloten: er is nu niemand aan het werk. Probeer het later nog eens.",
    );
    w.direct("staff@localhost/console", PresenceKind::Available);
    // The form: title, labels and instructions.
    let form = one(&w.command_in("nl", VISITOR, "request-chat", &[]));
    has(&form, "<title>Een chat aanvragen</title>");
    has(&form, "label='Je naam (elke naam is goed)'");
    has(&form, "label='Waarover wil je praten?'");
    has(
        &form,
        "<instructions>Een medewerker gaat met je chatten zodra er iemand vrij is.</instructions>",
    );
    // Submitted without a name: the note of an incomplete form.
    let again = one(&w.command_in("nl", VISITOR, "request-chat", &[("topic", "examens")]));
    has(&again, "Vul een naam in: elke naam is goed.");
    has(&again, "<value>examens</value>");
    // A name too long: the form again, the problem in Dutch, to correct.
    let long = "x".repeat(65);
    let e = w.command_in("nl", VISITOR, "request-chat", &[("nick", &long)]);
    let again = one(&e);
    has(&again, "status='executing'");
    has(
        &again,
        "<note type='warn'>De naam (nick) is te lang: hoogstens 64 tekens.</note>",
    );
    // A bad request (the page's key too short): the IQ error's text, marked as Dutch.
    let e = w.command_in(
        "nl",
        VISITOR,
        "request-chat",
        &[("nick", "Sam"), ("key", "short")],
    );
    let error = one(&e);
    has(&error, "<bad-request");
    has(&error, "xml:lang='nl'");
    // Queued: the place and the labels of the result.
    let e = w.command_in(
        "nl",
        VISITOR,
        "request-chat",
        &[("nick", "Sam"), ("key", KEY)],
    );
    let queued = one(&e);
    has(&queued, "<title>Een chat aanvragen</title>");
    has(&queued, "label='Plaats in de rij'");
    has(
        &queued,
        "<note type='info'>Jij bent de volgende in de rij.</note>",
    );
    // Leaving.
    let left = one(&w.command_in("nl", VISITOR, "leave-queue", &[]));
    has(
        &left,
        "<note type='info'>Je hebt de wachtrij verlaten.</note>",
    );
    let status = one(&w.command_in("nl", VISITOR, "line-status", &[]));
    has(&status, "<note type='info'>De hulplijn is open.</note>");
    // A stranger asking in Dutch is refused in Dutch.
    let e = w.command_in("nl", "mallory@evil.example/x", "request-chat", &[]);
    has(&one(&e), "Je mag deze opdracht niet gebruiken.");
}

#[test]
fn a_request_in_arabic_hears_its_place_with_the_right_plural_then_pushes_and_the_invitation_follow()
{
    let mut w = open_line_with(Settings {
        max_length: 200,
        ..settings()
    });
    let mut places = Vec::new();
    for ahead in [1, 2, 3, 11, 100] {
        w.store.queue.clear();
        for _ in 0..ahead {
            w.store.wait(None, "someone", secs(1));
        }
        let e = w.command_in(
            "ar",
            VISITOR,
            "request-chat",
            &[("nick", "Sam"), ("key", KEY)],
        );
        let answer = one(&e);
        has(&answer, "<title>طلب محادثة</title>");
        has(&answer, "label='ترتيبك في قائمة الانتظار'");
        let note = answer.split("<note type='info'>").nth(1).unwrap();
        places.push(note.split("</note>").next().unwrap().to_string());
    }
    assert_eq!(
        places,
        [
            "ترتيبك 2 في قائمة الانتظار، وأمامك شخص واحد.",
            "ترتيبك 3 في قائمة الانتظار، وأمامك شخصان.",
            "ترتيبك 4 في قائمة الانتظار، وأمامك 3 أشخاص.",
            "ترتيبك 12 في قائمة الانتظار، وأمامك 11 شخصًا.",
            "ترتيبك 101 في قائمة الانتظار، وأمامك 100 شخص.",
        ]
    );
    // Those ahead are served: the visitor hears of their new place in Arabic at a read of the
    // places at least five seconds after the last they heard.
    w.store.queue.retain(|r| r.jid.as_deref() == Some(VISITOR));
    let e = w.until(secs(14));
    let push = sent(&e)
        .into_iter()
        .find(|s| s.contains("urn:helpim:queue:0"))
        .expect("a place pushed");
    has(&push, "<body>أنت التالي في قائمة الانتظار.</body>");
    // A staff member takes room-1: the invitation's reason is in Arabic too.
    w.store
        .claims
        .get_mut(&room_jid(1).to_string())
        .unwrap()
        .staff_at = Some(secs(14));
    w.now = secs(15);
    let mut e = w.enter(&room_jid(1), "staff");
    e.extend(w.until(secs(16)));
    let invitation = sent(&e)
        .into_iter()
        .find(|s| s.contains("jabber:x:conference"))
        .expect("an invitation");
    has(
        &invitation,
        "reason='أحد أعضاء الفريق مستعد للتحدث معك الآن.'",
    );
    // The visitor joins; blocked, they are removed with a reason in Arabic.
    w.now = secs(17);
    w.enter_as(
        &room_jid(1),
        Occupant {
            nick: "Sam".into(),
            jid: VISITOR.into(),
            affiliation: "none".into(),
        },
    );
    assert_eq!(w.core.counts().by_status[2], 1, "busy");
    let e = w.command(
        "staff@localhost/console",
        "block-visitor",
        &[("reason", "abuse")],
    );
    let kick = iqs(&e)
        .into_iter()
        .find(|x| x.contains("muc#admin") && x.contains("nick='Sam'"))
        .unwrap_or_else(|| panic!("a kick: {e:?}"));
    has(&kick, "<reason>انتهت هذه المحادثة.</reason>");
}

#[test]
fn an_unknown_language_falls_back_to_the_help_lines_default() {
    let mut w = open_line();
    let e = w.command_in("de-DE", VISITOR, "line-status", &[]);
    has(&one(&e), "<note type='info'>The help line is open.</note>");
    // A Dutch help line: German and no language at all get Dutch.
    let mut dutch = world_with(Settings {
        catalogs: Arc::new(Catalogs::build(Vec::new(), "nl").unwrap()),
        ..settings()
    });
    dutch.input(crate::core::Input::Online { fresh: true });
    dutch.direct("staff@localhost/console", PresenceKind::Available);
    for e in [
        dutch.command_in("de", VISITOR, "line-status", &[]),
        dutch.command(VISITOR, "line-status", &[]),
    ] {
        has(&one(&e), "<note type='info'>De hulplijn is open.</note>");
    }
    // English asked of it is English.
    let e = dutch.command_in("en-GB", VISITOR, "line-status", &[]);
    has(&one(&e), "<note type='info'>The help line is open.</note>");
}

#[test]
fn a_closed_help_line_names_its_next_opening_in_the_visitors_language() {
    // Open 09:00–17:00 UTC; the clock starts on Friday 15 January 2027 at 08:00.
    let mut w = world_with(with_hours());
    w.input(crate::core::Input::Online { fresh: true });
    let note = |w: &mut World, lang: &str| one(&w.command_in(lang, VISITOR, "line-status", &[]));
    has(
        &note(&mut w, "en"),
        "The help line is closed now. It opens again at Friday 15 January, 09:00 (UTC).",
    );
    has(
        &note(&mut w, "nl"),
        "De hulplijn is nu gesloten. We zijn weer open op vrijdag 15 januari om 09:00 (UTC).",
    );
    has(
        &note(&mut w, "ar"),
        "خط المساعدة مغلق الآن. سيفتح مجددًا يوم الجمعة 15 يناير، الساعة 09:00 (UTC).",
    );
}

#[test]
fn english_asked_for_is_what_the_documentation_shows() {
    // The same request with and without xml:lang='en' gets the same words.
    let mut w = open_line();
    let plain = one(&w.command(VISITOR, "line-status", &[]));
    let english = one(&w.command_in("en", VISITOR, "line-status", &[]));
    assert_eq!(plain, english.replace("sessionid='hc2'", "sessionid='hc1'"));
}
