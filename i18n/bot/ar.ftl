# الكلمات التي يرسلها helpim-bot إلى الزوار، بالعربية. انظر en.ftl للشرح.
# Plurals (CLDR): zero, one, two, few (3–10), many (11–99), other (100, …).

## أوامر الزوار: أسماؤها وعناوين نماذجها

request-chat = طلب محادثة
leave-queue = مغادرة قائمة الانتظار
resume-chat = متابعة محادثتي
line-status = هل خط المساعدة مفتوح؟
feedback = بعد المحادثة

## request-chat: النموذج

answer-yes = نعم
answer-no = لا
form-nick = اسمك (أي اسم تريده)
form-topic = عمّ تودّ أن تتحدث؟
form-instructions = سيتحدث معك أحد أعضاء الفريق حالما يصبح متاحًا.
form-need-nick = يرجى كتابة اسم: أي اسم يفي بالغرض.
form-need-answer = يرجى الإجابة عن: { $question }
form-not-an-option = يرجى اختيار إحدى الإجابات عن: { $question }
too-long-answer = الإجابة عن "{ $question }" طويلة جدًا: الحد الأقصى { $max ->
        [one] حرف واحد
        [two] حرفان
        [few] { $max } أحرف
        [many] { $max } حرفًا
       *[other] { $max } حرف
    }.
too-long-nick = الاسم (nick) طويل جدًا: الحد الأقصى { $max ->
        [one] حرف واحد
        [two] حرفان
        [few] { $max } أحرف
        [many] { $max } حرفًا
       *[other] { $max } حرف
    }.
too-long-topic = الموضوع (topic) طويل جدًا: الحد الأقصى { $max ->
        [one] حرف واحد
        [two] حرفان
        [few] { $max } أحرف
        [many] { $max } حرفًا
       *[other] { $max } حرف
    }.
too-short-key = مفتاح الزائر (key) قصير جدًا: الحد الأدنى { $min ->
        [one] حرف واحد
        [two] حرفان
        [few] { $min } أحرف
        [many] { $min } حرفًا
       *[other] { $min } حرف
    } (128 بت).

## تسميات نماذج النتائج

label-queue-id = رقم الانتظار
label-position = ترتيبك في قائمة الانتظار
label-estimate = مدة الانتظار المتوقعة (بالثواني)
label-soon = سينضم إليك مرشد بعد قليل
label-reason = سبب الإغلاق
label-next-opening = يفتح مجددًا
label-open = مفتوح
label-room = الغرفة
label-key = مفتاح الزائر

## request-chat و line-status: مفتوح، مغلق، مشغول، محظور

open = خط المساعدة مفتوح.
closed-no-staff = خط المساعدة مغلق: لا يوجد أحد في الخدمة الآن. يرجى المحاولة لاحقًا.
closed-outside-hours = خط المساعدة مغلق الآن.
closed-until = خط المساعدة مغلق الآن. سيفتح مجددًا يوم { $weekday } { $day } { $month }، الساعة { $time } (UTC).
weekday = { $day ->
        [1] الاثنين
        [2] الثلاثاء
        [3] الأربعاء
        [4] الخميس
        [5] الجمعة
        [6] السبت
       *[7] الأحد
    }
month = { $month ->
        [1] يناير
        [2] فبراير
        [3] مارس
        [4] أبريل
        [5] مايو
        [6] يونيو
        [7] يوليو
        [8] أغسطس
        [9] سبتمبر
        [10] أكتوبر
        [11] نوفمبر
       *[12] ديسمبر
    }
busy = جميع أعضاء فريقنا مشغولون وقائمة الانتظار ممتلئة. يرجى المحاولة بعد قليل.
blocked = لا يمكننا بدء محادثة معك.

## الترتيب في قائمة الانتظار

place-soon = أحد المرشدين متاح وسينضم إليك بعد قليل.
place-next = أنت التالي في قائمة الانتظار.
place-next-wait = أنت التالي في قائمة الانتظار (مدة الانتظار المتوقعة: { $wait }).
place-number = ترتيبك { $position } في قائمة الانتظار، وأمامك { $ahead ->
        [one] شخص واحد
        [two] شخصان
        [few] { $ahead } أشخاص
        [many] { $ahead } شخصًا
       *[other] { $ahead } شخص
    }.
place-number-wait = ترتيبك { $position } في قائمة الانتظار، وأمامك { $ahead ->
        [one] شخص واحد
        [two] شخصان
        [few] { $ahead } أشخاص
        [many] { $ahead } شخصًا
       *[other] { $ahead } شخص
    } (مدة الانتظار المتوقعة: { $wait }).
place-closing = يُغلق خط المساعدة بعد { $minutes ->
        [one] دقيقة واحدة
        [two] دقيقتين
        [few] { $minutes } دقائق
        [many] { $minutes } دقيقة
       *[other] { $minutes } دقيقة
    }، وسنظل نساعدك.

## مدة الانتظار بالكلمات

wait-few = بضع دقائق
wait-about = حوالي { $minutes ->
        [one] دقيقة واحدة
        [two] دقيقتين
        [few] { $minutes } دقائق
       *[other] { $minutes } دقيقة
    }
wait-half-hour = حوالي نصف ساعة
wait-more = أكثر من نصف ساعة

## leave-queue و resume-chat

left = لقد غادرت قائمة الانتظار.
not-queued = لم تكن في قائمة الانتظار.
resume-need-key = يرجى إدخال مفتاح الزائر.
resumed = محادثتك مستمرة.
resume-none = لا توجد محادثة لمتابعتها.

## دعوات الانضمام إلى الغرفة

invite-ready = أحد أعضاء الفريق مستعد للتحدث معك الآن.
invite-resume = تستمر محادثتك هنا.

## شخص غادر المحادثة عن قصد (سطر البوت في الغرفة)

left-clean = غادر { $name } المحادثة.

## سبب الإخراج من الغرفة

kick-ended = انتهت هذه المحادثة.
kick-no-claim = هذه الغرفة ليست مخصصة لك.
kick-third-person = هذه الغرفة لشخصين فقط.
kick-impostor = هذا المكان محجوز لشخص آخر.

## feedback: الأسئلة بعد المحادثة (تطرحها صفحة الزائر عند انتهاء المحادثة)

feedback-instructions = هل تخبرنا كيف كانت المحادثة؟
feedback-none = لا توجد أسئلة بعد المحادثة.
feedback-thanks = شكرًا لأنك أخبرتنا.
feedback-already = لقد أخبرتنا عن هذه المحادثة من قبل. شكرًا لك.
feedback-no-chat = لا توجد محادثة حديثة لك لتخبرنا عنها.

## الأخطاء

error-rate = طلبات كثيرة جدًا؛ يرجى المحاولة مجددًا بعد لحظات.
error-internal = لا يستطيع خط المساعدة القيام بذلك الآن؛ يرجى المحاولة مجددًا بعد لحظات.
error-wrong = حدث خطأ ما.
error-forbidden = لا يمكنك استخدام هذا الأمر.
error-no-command = لا يوجد أمر بهذا الاسم.
