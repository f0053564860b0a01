# De woorden die helpim-bot bezoekers stuurt, in het Nederlands. Zie en.ftl voor de uitleg.

## De opdrachten van bezoekers: hun namen, de titels van hun formulieren

request-chat = Een chat aanvragen
leave-queue = De wachtrij verlaten
resume-chat = Mijn chat hervatten
line-status = Is de hulplijn open?
feedback = Na de chat

## request-chat: het formulier

answer-yes = Ja
answer-no = Nee
form-nick = Je naam (elke naam is goed)
form-topic = Waarover wil je praten?
form-instructions = Een medewerker gaat met je chatten zodra er iemand vrij is.
form-need-nick = Vul een naam in: elke naam is goed.
form-need-answer = Beantwoord alsjeblieft: { $question }
form-not-an-option = Kies een van de antwoorden op: { $question }
too-long-answer = Het antwoord op "{ $question }" is te lang: hoogstens { $max } { $max ->
        [one] teken
       *[other] tekens
    }.
too-long-nick = De naam (nick) is te lang: hoogstens { $max } { $max ->
        [one] teken
       *[other] tekens
    }.
too-long-topic = Het onderwerp (topic) is te lang: hoogstens { $max } { $max ->
        [one] teken
       *[other] tekens
    }.
too-short-key = De bezoekerssleutel (key) is te kort: minstens { $min } { $min ->
        [one] teken
       *[other] tekens
    } (128 bits).

## De labels van resultaatformulieren

label-queue-id = Wachtnummer
label-position = Plaats in de rij
label-estimate = Geschatte wachttijd (seconden)
label-soon = Een hulpverlener komt zo bij je
label-reason = Waarom gesloten
label-next-opening = Weer open
label-open = Open
label-room = Kamer
label-key = Bezoekerssleutel

## request-chat en line-status: open, gesloten, druk, geblokkeerd

open = De hulplijn is open.
closed-no-staff = De hulplijn is gesloten: er is nu niemand aan het werk. Probeer het later nog eens.
closed-outside-hours = De hulplijn is nu gesloten.
closed-until = De hulplijn is nu gesloten. We zijn weer open op { $weekday } { $day } { $month } om { $time } (UTC).
weekday = { $day ->
        [1] maandag
        [2] dinsdag
        [3] woensdag
        [4] donderdag
        [5] vrijdag
        [6] zaterdag
       *[7] zondag
    }
month = { $month ->
        [1] januari
        [2] februari
        [3] maart
        [4] april
        [5] mei
        [6] juni
        [7] juli
        [8] augustus
        [9] september
        [10] oktober
        [11] november
       *[12] december
    }
busy = Al onze medewerkers zijn bezet en de wachtrij is vol. Probeer het over een tijdje nog eens.
blocked = We kunnen geen chat met je beginnen.

## Een plaats in de rij

place-soon = Er is een hulpverlener vrij, die zo bij je komt.
place-next = Jij bent de volgende in de rij.
place-next-wait = Jij bent de volgende in de rij (geschatte wachttijd: { $wait }).
place-number = Je bent nummer { $position } in de rij.
place-number-wait = Je bent nummer { $position } in de rij (geschatte wachttijd: { $wait }).
place-closing = De hulplijn sluit over { $minutes } { $minutes ->
        [one] minuut
       *[other] minuten
    }; we helpen je dan nog steeds.

## Wachttijden in woorden

wait-few = een paar minuten
wait-about = ongeveer { $minutes } minuten
wait-half-hour = ongeveer een half uur
wait-more = meer dan een half uur

## leave-queue en resume-chat

left = Je hebt de wachtrij verlaten.
not-queued = Je stond niet in de wachtrij.
resume-need-key = Geef de bezoekerssleutel.
resumed = Je chat gaat verder.
resume-none = Er is geen chat om te hervatten.

## Uitnodigingen voor de kamer

invite-ready = Er is een medewerker klaar om met je te chatten.
invite-resume = Je chat gaat hier verder.

## Iemand die een chat bewust verliet (de regel van de bot in de kamer)

left-clean = { $name } heeft de chat verlaten.

## Waarom iemand uit een kamer wordt gehaald

kick-ended = Deze chat is afgelopen.
kick-no-claim = Deze kamer is niet aan jou gegeven.
kick-third-person = Deze kamer is voor twee mensen.
kick-impostor = Deze plaats is van iemand anders.

## feedback: de vragen na de chat (de bezoekerspagina stelt ze als de chat voorbij is)

feedback-instructions = Wil je ons vertellen hoe de chat ging?
feedback-none = Er zijn geen vragen na de chat.
feedback-thanks = Dank je wel dat je het ons vertelt.
feedback-already = Je hebt ons al over deze chat verteld. Dank je wel.
feedback-no-chat = Er is geen recente chat van jou om ons over te vertellen.

## Fouten

error-rate = Te veel verzoeken; probeer het zo nog eens.
error-internal = De hulplijn kan dit nu even niet; probeer het zo nog eens.
error-wrong = Er ging iets mis.
error-forbidden = Je mag deze opdracht niet gebruiken.
error-no-command = Deze opdracht bestaat niet.
