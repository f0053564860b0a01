# The words helpim-bot sends visitors, in English (docs/protocol.md, "Languages").
#
# Every catalog holds every message of this one. A help line adds a language with a file named
# by its tag (de.ftl, pt-BR.ftl) in the directory `visitors.catalogs`; one named like a shipped
# catalog (en.ftl, nl.ftl, ar.ftl) replaces it. Variables are written { $name }; a number can
# choose the words by plural category: { $n -> [one] … *[other] … } (CLDR: zero, one, two,
# few, many, other).

## The visitors' commands: their names, the titles of their forms

request-chat = Request a chat
leave-queue = Leave the queue
resume-chat = Resume my chat
line-status = Is the help line open?
feedback = After the chat

## request-chat: the form

answer-yes = Yes
answer-no = No
form-nick = Your name (any name)
form-topic = What would you like to talk about?
form-instructions = A staff member will chat with you as soon as one is free.
form-need-nick = Please give a name: any name will do.
form-need-answer = Please answer: { $question }
form-not-an-option = Please choose one of the answers to: { $question }
# $max: a number of characters.
too-long-answer = The answer to "{ $question }" is too long: at most { $max } { $max ->
        [one] character
       *[other] characters
    }.
# $max, $min: a number of characters.
too-long-nick = The name (nick) is too long: at most { $max } { $max ->
        [one] character
       *[other] characters
    }.
too-long-topic = The topic (topic) is too long: at most { $max } { $max ->
        [one] character
       *[other] characters
    }.
too-short-key = The visitor key (key) is too short: at least { $min } { $min ->
        [one] character
       *[other] characters
    } (128 bits).

## The labels of result forms

label-queue-id = Queue number
label-position = Place in line
label-estimate = Estimated wait (seconds)
label-soon = A counsellor is about to join you
label-reason = Why closed
label-next-opening = Opens again
label-open = Open
label-room = Room
label-key = Visitor key

## request-chat and line-status: open, closed, busy, blocked

open = The help line is open.
closed-no-staff = The help line is closed: nobody is on duty right now. Please try again later.
closed-outside-hours = The help line is closed now.
# $weekday, $month: the words of `weekday` and `month`; $day: the day of the month; $time: 09:00.
closed-until = The help line is closed now. It opens again at { $weekday } { $day } { $month }, { $time } (UTC).
# $day: 1 is Monday, 7 is Sunday.
weekday = { $day ->
        [1] Monday
        [2] Tuesday
        [3] Wednesday
        [4] Thursday
        [5] Friday
        [6] Saturday
       *[7] Sunday
    }
month = { $month ->
        [1] January
        [2] February
        [3] March
        [4] April
        [5] May
        [6] June
        [7] July
        [8] August
        [9] September
        [10] October
        [11] November
       *[12] December
    }
busy = All our staff are busy and the queue is full. Please try again a little later.
blocked = We cannot start a chat with you.

## A place in line (the answer to request-chat and the queue's pushes)

place-soon = A counsellor is free and about to join you.
place-next = You are next in the queue.
# $wait: the words of a wait-* message.
place-next-wait = You are next in the queue (estimated wait: { $wait }).
# $position: the place (2 or more); $ahead: how many are before the visitor.
place-number = You are number { $position } in the queue.
place-number-wait = You are number { $position } in the queue (estimated wait: { $wait }).
# Added after the place, within the warning before closing time.
place-closing = The help line closes in { $minutes } { $minutes ->
        [one] minute
       *[other] minutes
    }; you will still be helped.

## Waits in words, with honest ranges

wait-few = a few minutes
# $minutes: 5, 10, 15, 20 or 25.
wait-about = about { $minutes } minutes
wait-half-hour = about half an hour
wait-more = more than half an hour

## leave-queue and resume-chat

left = You left the queue.
not-queued = You were not in the queue.
resume-need-key = Please give the visitor key.
resumed = Your chat continues.
resume-none = There is no chat to resume.

## Invitations to the room (their reason)

invite-ready = A staff member is ready to chat with you.
invite-resume = Your chat continues here.

## A person who left a chat on purpose (the bot's line in the room)

left-clean = { $name } has left the chat.

## Why someone is removed from a room (the reason of the kick)

kick-ended = This chat has ended.
kick-no-claim = This room was not handed to you.
kick-third-person = This room is for two people only.
kick-impostor = This seat belongs to someone else.

## feedback: the questions after the chat (the visitor page asks them when the chat has ended)

feedback-instructions = Would you tell us how the chat went?
feedback-none = There are no questions after the chat.
feedback-thanks = Thank you for telling us.
feedback-already = You have already told us about this chat. Thank you.
feedback-no-chat = There is no recent chat of yours to tell us about.

## Errors

error-rate = Too many requests; please try again in a moment.
error-internal = The help line cannot do this right now; please try again in a moment.
error-wrong = Something went wrong.
error-forbidden = You may not use this command.
error-no-command = No such command.
