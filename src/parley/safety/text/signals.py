"""Grooming signals: which ones a line carries, and the rules that find them."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from parley.safety.text.contacts import _YOU, _detect
from parley.safety.text.fold import _Line, _prepare, _Rule, _rule, _RuleIndex


class Signal(StrEnum):
    """A kind of grooming signal. The values are stored in a flag's details: keep them."""

    AGE = "age"  # age probing: "how old are you", "asl", "what grade are you in"
    IMAGES = "images"  # requests for images: "send pics", "turn on your cam"
    SECRECY = "secrecy"  # "don't tell your parents", "our secret", "delete this"
    ISOLATION = "isolation"  # "your parents don't understand you", "are you alone"
    MEETING = "meeting"  # "where do you live", "meet up", "what school"
    GIFTS = "gifts"  # "I'll buy you", "gift card", "robux"
    SEXUAL = "sexual"  # sexual talk
    OFFPLATFORM = "offplatform"  # contact details or a move elsewhere (see mask_contacts)
    FLATTERY = "flattery"  # flattery aimed at a child: "so mature for your age"


_Y = _YOU
_YR = r"(?:your|ur|yr|yur)"
_R = r"(?:are|r)"
_I_WILL = (
    r"(?:i'?ll|ill|i\s+will|i\s+can|i\s+could|i'?d|let\s+me|i'?m\s+gonna|im\s+gonna|i\s+gonna|"
    r"want\s+me\s+to|should\s+i)"
)
_GIFT_OBJECTS = (
    r"robux|v-?bucks|money|cash|gift\s?cards?|skins?|nitro|coins|gems|presents?|gifts?|something|"
    r"anything|stuff|phone|new\s+phone|clothes|game\s+pass|battle\s+pass|paypal|venmo|cashapp|"
    r"amazon|steam\s+card|premium"
)
_CARD_BRANDS = r"amazon\s+|steam\s+|roblox\s+|google\s+play\s+|itunes\s+|apple\s+|xbox\s+|psn\s+"
_PARENT_NAMES = (
    "parent parents mom mum mommy mother dad daddy father family folks guardian guardians"
)
_PARENT = rf"(?:{'|'.join(_PARENT_NAMES.split())})"
_WHO = rf"(?:{_PARENT}|any\s?one|any\s?body|no\s?one|nobody|friends?|teachers?|sister|brother)"

# Each signal is a few rules; each rule lists the words that any of its matches contains.
_SIGNAL_RULES: Final[tuple[tuple[Signal, _Rule], ...]] = (
    (
        Signal.AGE,
        _rule(
            "|".join(
                (
                    # "how old are you", "how old r u", "u look young, how old" (not "how old is
                    # minecraft")
                    rf"\bhow\s+old\s+(?:{_R}\s+(?:{_Y}|ya)|{_Y}\s+{_R}|{_Y}\b|r\b)",
                    r"\bhow\s+old\s*(?:[?.!]|$)",
                    rf"\bhow\s+young\s+(?:{_R}|{_Y})\b|\bwhat\s+age\s+(?:{_R}|{_Y}|is\s+{_Y})\b",
                    r"\ba\s?/?s\s?/?l\b",
                    # "what grade are you in" (not "what grade did you get")
                    rf"\bwhat\s+grade\s+(?:{_R}\s+{_Y}|{_Y}|r\s+ya)\b|\bwhat\s+grade\s*(?:[?.!]|$)",
                    rf"\b{_R}\s+{_Y}\s+in\s+(?:year|grade|class|form|yr)\s+\d{{1,2}}\b",
                    rf"\b(?:what|which)\s+year\s+(?:were|was|r|are)\s+{_Y}\s+(?:born|in)\b",
                    rf"\bwhen\s+were\s+{_Y}\s+born\b",
                    rf"\bwhat'?s\s+{_YR}\s+age\b|\bwhat\s+is\s+{_YR}\s+age\b|\b{_YR}\s+age\s*\?",
                    rf"\bwhen'?s?\s+(?:is\s+)?{_YR}\s+(?:birthday|bday|b-day)\b",
                    rf"\b{_Y}\s+look\s+(?:so\s+|really\s+)?young\b",
                    rf"\b{_R}\s+{_Y}\s+(?:a\s+)?minor\b",
                )
            ),
            "old young age asl l sl grade year yr class form born birthday bday day minor",
        ),
    ),
    (
        Signal.AGE,
        _rule(
            rf"\b{_R}\s+{_Y}\s+(?:(?:under|over|only|even|like|still|atleast|at\s+least)\s+)?1\d\b|"
            rf"\b{_Y}\s+1\d\s*(?:\?|or\s+1\d)|\b1\d\s+or\s+1\d\s*\?",
            [str(n) for n in range(10, 20)],
        ),
    ),
    (
        Signal.AGE,
        _rule(
            rf"\b(?:{_R}\s+)?{_Y}\s+(?:still\s+)?in\s+(?:middle|high|elementary|primary|"
            rf"secondary|junior|grade)\s*school",
            (),
            ("school",),
        ),
    ),
    (
        Signal.AGE,
        _rule(r"\b(?:m|f)\s+or\s+(?:m|f)\b|\b(?:boy|girl)\s+or\s+(?:a\s+)?(?:boy|girl)\b", "or"),
    ),
    (
        Signal.IMAGES,
        _rule(
            "|".join(
                (
                    # "send pics", "send me a pic" (not "can you send a pic of the homework", not
                    # "i can't send pics here")
                    rf"\bsend(?<!can't\ssend)(?<!cant\ssend)(?<!cannot\ssend)(?<!not\ssend)\s+"
                    rf"(?:me\s+)?(?:a\s+|some\s+|more\s+|ur\s+|your\s+|any\s+|another\s+)?"
                    rf"(?:pic|pics|pix|picture|pictures|photo|photos|selfie|selfies|nudes?|vids?|"
                    rf"videos?)\b(?!\s+of\s+(?!{_Y}\b|yourself|urself|{_YR}\s))",
                    rf"\b(?:pic|pics|photo|photos|picture|pictures|selfie|selfies|vid|video)\s+of\s+"
                    rf"(?:{_Y}|yourself|urself|{_YR}\s+(?:self|body|face))\b",
                    r"\b(?:got|have|any)\s+(?:any\s+)?(?:more\s+)?(?:pics|selfies|photos|pictures|"
                    r"nudes)\s*\?",
                    r"\b(?:pics?|selfies?)\s+(?:pls|plz|please|now)\b|^\s*(?:pics?|selfie)\s*\?",
                    r"\bpic\s*(?:for|4|a)\s*pic\b|\b(?:trade|swap|exchange)\s+(?:pics|pictures|"
                    r"photos|selfies)\b",
                    rf"\b(?:do|have)\s+{_Y}\s+(?:have|got)\s+(?:any\s+)?(?:pics|photos|pictures|"
                    rf"selfies)\b",
                    r"\btake\s+a\s+(?:pic|photo|picture|selfie)\s+(?:in|for|of\s+(?:you|yourself|"
                    r"urself))\b",
                )
            ),
            "pic pics pix picture pictures photo photos selfie selfies nude nudes vid vids video "
            "videos picapic picforpic",
        ),
    ),
    (
        Signal.IMAGES,
        _rule(
            "|".join(
                (
                    # bare "show me", "show me what you look like", "show me your body"
                    rf"\bshow\s+me(?:\s*(?:[?!.,]|$)|\s+(?:what\s+{_Y}\s+look|{_YR}\s+(?:body|face|"
                    rf"self|boobs|tits|chest|legs|feet|butt|ass|bra|outfit|room)|yourself|urself|"
                    rf"more\b|{_Y}\b|(?:a\s+)?(?:pic|pics|photo|picture)\s+of\s+(?:{_Y}|yourself|"
                    rf"urself)\b))",
                    rf"\bshow\s+(?:yourself|urself|{_YR}\s+(?:face|body|self))\b",
                    rf"\b(?:see|show\s+me)\s+{_YR}\s+(?:face|body|pics?|photos?|outfit|legs|feet|"
                    rf"room)\b",
                    rf"\blet\s+me\s+see\s+(?:{_Y}\b|yourself|urself|{_YR}\s)",
                    rf"\b(?:i\s+)?(?:want|wanna|wana)\s+(?:to\s+)?see\s+(?:{_Y}\b|yourself|urself)",
                    rf"\bwhat\s+do\s+{_Y}\s+look\s+like|\bhow\s+do\s+{_Y}\s+look\b",
                    rf"\bturn\s+on\s+(?:{_YR}\s+|the\s+|ya\s+)?(?:cam|camera|webcam|video)\b",
                    rf"\b(?:turn|put|switch|flip)\s+(?:{_YR}\s+|the\s+)?(?:cam|camera|webcam|video)"
                    rf"\s+on\b",
                    r"\b(?:get|go|hop)\s+on\s+(?:cam|camera|video)\b",
                )
            ),
            "show see look cam camera webcam video",
        ),
    ),
    (
        Signal.SECRECY,
        _rule(
            "|".join(
                (
                    rf"\b(?:don'?t|dont|do\s+not|never|dnt)\s+tell\s+(?:{_YR}\s+|ya\s+)?{_WHO}",
                    r"\bour\s+(?:little\s+)?secret\b(?!\s+(?:santa|levels?|recipe|handshake|code|"
                    r"base|hideout|menu|room|door|passage|area|boss|ending))",
                    r"\b(?:this|it)\s*(?:is|'s|s|will\s+be|'?ll\s+be|ll\s+be)\s+(?:our|a)\s+"
                    r"(?:little\s+)?secret\b(?!\s+(?:santa|recipe|handshake))",
                    r"\bkeep\s+(?:a|this|it|that|us|me)\s+(?:a\s+)?secret\b",
                    r"\bkeep\s+(?:this|it|that|us)\s+(?:between\s+us|to\s+yourself|quiet|private|"
                    r"on\s+the\s+dl)",
                    r"\b(?:just\s+)?between\s+(?:you\s+and\s+me|u\s+and\s+me|us)\s*(?:[?!.,]|$|ok|"
                    r"okay)",
                    r"\b(?:delete|erase|wipe|clear)\s+(?:this|these|that|the|our|ur|your|all|my)?"
                    r"\s*(?:chat|chats|messages?|msgs?|convo|conversation|texts?|history|pics?|"
                    r"photos?|dms?)\b",
                    r"\b(?:delete|erase|wipe)\s+(?:this|it|that)\s*(?:[.!?,]|$|\bafter|\blater|"
                    r"\bwhen|\bnow|\bok|\bpls)",
                    rf"\bclear\s+(?:{_YR}\s+|the\s+)?(?:history|chat|messages|browser|search)",
                    r"\b(?:use|go|open|turn\s+on)\s+(?:an?\s+)?incognito\b",
                    rf"\b(?:hide|hidden)\s+(?:this|it|the\s+chat|our\s+chat)\s+from\s+"
                    rf"(?:{_YR}\s+)?{_WHO}",
                    r"\b(?:this|it|that)\s+(?:stays|stay|remains)\s+(?:between\s+us|secret|private)",
                )
            ),
            "tell secret keep between stays stay remains delete erase wipe clear incognito hide "
            "hidden",
        ),
    ),
    (
        Signal.SECRECY,
        _rule(
            "|".join(
                (
                    r"\b(?:no\s?one|nobody|no\s+body)\s+(?:needs?|has|have|should|is\s+going)\s+to\s+"
                    r"(?:know|find\s+out)\b",
                    rf"\bmake\s+sure\s+(?:{_YR}\s+)?{_WHO}\s+(?:doesn'?t|dont|don'?t|never|won'?t|"
                    rf"can'?t)?\s*(?:sees?|knows?|finds?\s+out|reads?|checks?)",
                    rf"\b(?:{_YR}\s+)?{_WHO}\s+(?:can'?t|cant|cannot|can\s+not|mustn'?t|must\s+not|"
                    rf"shouldn'?t|should\s+not|won'?t|wont|never)\s+(?:ever\s+)?(?:know|find\s+out|"
                    rf"see\s+this|hear\s+about)\b",
                )
            ),
            "know find sure see hear",
        ),
    ),
    (
        Signal.ISOLATION,
        _rule(
            "|".join(
                (
                    rf"\b{_YR}\s+(?:{_PARENT}|friends)\s+(?:don'?t|dont|do\s+not|never|doesn'?t|"
                    rf"will\s+never|won'?t|can'?t|cant)\s+(?:really\s+)?(?:understand|get|care|"
                    rf"appreciate|deserve|listen|love)",
                    rf"\b(?:i|only\s+i)\s+(?:understand|get)s?\s+{_Y}\s+(?:better|more)\b",
                    rf"\b{_R}\s+{_Y}\s+(?:home\s+)?alone\b|\b{_R}\s+{_Y}\s+(?:by\s+)?(?:yourself|"
                    rf"urself)\b",
                    rf"\b{_R}\s+{_Y}\s+in\s+{_YR}\s+room\s+alone\b|\b{_R}\s+{_Y}\s+alone\s+in\s+"
                    rf"{_YR}\s+room",
                    rf"\bis\s+(?:any\s?one|any\s?body|some\s?one|some\s?body)\s+(?:else\s+)?(?:home|"
                    rf"there|with\s+{_Y}|around|watching|in\s+the\s+room|near\s+{_Y})",
                    rf"\b(?:is|are|{_R})\s+{_YR}\s+{_PARENT}\s+(?:home|there|around|awake|asleep|"
                    rf"out|away|strict|watching|at\s+work|gone)",
                    rf"\b{_YR}\s+{_PARENT}\s+(?:sound|seem|are|r|is)\s+(?:so\s+|really\s+|super\s+)?"
                    rf"(?:strict|mean|controlling|annoying|overprotective|unfair|toxic|crazy)",
                    rf"\bwhere\s+{_R}\s+{_YR}\s+{_PARENT}\b",
                    rf"\b{_YR}\s+friends\s+(?:are|r)\s+(?:so\s+|really\s+)?(?:immature|fake|"
                    rf"childish|boring|lame|jealous|bad\s+for)",
                    rf"\bonly\s+(?:one|person)\s+(?:who|that)\s+(?:really\s+)?(?:understands|gets|"
                    rf"cares\s+about|loves)\s+{_Y}\b",
                    rf"\b(?:get|gets|understand|understands|know|knows|love|loves|care\s+about|"
                    rf"cares\s+about|treat|treats)\s+{_Y}\s+like\s+(?:i\s+do|me)\b",
                    rf"\b{_Y}\s+can\s+(?:only\s+)?trust\s+(?:me|only\s+me)\b",
                    rf"\b(?:do|does)\s+{_YR}\s+{_PARENT}\s+(?:ever\s+)?(?:check|read|look\s+at|"
                    rf"go\s+through|monitor|see)\s+{_YR}\s+(?:phone|messages|texts|chats|computer)",
                    rf"\b(?:they|{_YR}\s+{_PARENT})\s+(?:wouldn'?t|wouldnt|won'?t|wont|"
                    rf"would\s+never|will\s+never)\s+understand\b",
                )
            ),
            _PARENT_NAMES
            + " friends understand understands get gets alone yourself urself anyone anybody"
            " someone somebody any some only like trust",
        ),
    ),
    (
        Signal.MEETING,
        _rule(
            "|".join(
                (
                    rf"\bwhere\s+(?:do\s+|d\s+)?{_Y}\s+(?:live|stay)\b(?!\s+in\s+(?:the\s+)?game)",
                    rf"\b{_R}\s+{_Y}\s+(?:near|close\s+to)\b(?!\s+(?:the\s+)?(?:end|finish|done|"
                    rf"level|boss|top|goal))",
                    rf"\bwhere\s+{_R}\s+{_Y}\s+(?:located|staying|based)\b",
                    rf"\bwhat\s+(?:city|town|state|area|neighbou?rhood|street|part\s+of\s+town)\s+"
                    rf"(?:do|are|r|d)\s+{_Y}\b",
                    r"\b(?:let'?s|lets|we\s+(?:should|could|can|gotta)|wanna|want\s+to|can\s+we|"
                    r"should\s+we)\s+(?:meet|hang\s?out|link\s+up|see\s+each\s+other|meetup)"
                    r"(?:\s+up)?\b(?!\s+(?:the|my|our|his|her|their|a|an|new|people|friends|"
                    r"deadlines?|requirements?|expectations|goals?)\b)(?!\s+(?:in|at|on)\s+"
                    r"(?:the\s+|a\s+)?(?:game|lobby|arena|server|match|map|spawn|base|discord|call|"
                    r"fortnite|minecraft|roblox))",
                    r"\bmeet\s+(?:up\s+)?(?:irl|in\s+real\s+life|in\s+person|face\s+to\s+face)",
                    r"\bhang\s?out\s+(?:irl|in\s+person|in\s+real\s+life)",
                    rf"\bpick\s+{_Y}\s+up\b|\bcome\s+(?:to|over\s+to|and\s+see|see)\s+{_Y}\b",
                    rf"\bcome\s+(?:to|over\s+to)\s+{_YR}\s+(?:town|city|house|place|school|area|"
                    rf"home)",
                    rf"\bi\s*(?:could|can|will|'ll|ll)\s+(?:drive|come|walk|take\s+a\s+bus|visit)\s+"
                    rf"(?:over|there|to\s+{_Y}|{_Y}\b|to\s+{_YR})",
                    r"\b(?:what|which)\s+school\b(?!\s+(?:subjects?|work|clubs?|supplies|lunch|"
                    r"sports?|events?|stuff|things|year|shows?|games?|uniform))",
                    rf"\bwhat'?s\s+the\s+name\s+of\s+{_YR}\s+school\b|\b{_YR}\s+school'?s\s+name\b|"
                    rf"\b{_YR}\s+school\s+called\b|\bwhat'?s\s+{_YR}\s+school\s*(?:\?|$)|"
                    rf"\bwhat\s+is\s+{_YR}\s+school\b",
                    rf"\b(?:send|give|tell|dm)\s+me\s+{_YR}\s+(?:address|addy|location|zip|postcode|"
                    rf"post\s+code)\b|\bwhat'?s\s+{_YR}\s+(?:address|addy|location|zip)\b|"
                    rf"\bwhat\s+is\s+{_YR}\s+address\b",
                    rf"\b(?:which|what)\s+(?:mall|park|store|street|bus\s+stop|station)\s+do\s+"
                    rf"{_Y}\s+(?:go|hang|live)",
                    rf"\bi\s+live\s+(?:near|close\s+to|by)\s+(?:{_Y}\b|there|{_YR})",
                )
            ),
            "live stay located staying based near close city town state area neighbourhood "
            "neighborhood street part meet meetup hang hangout link see irl real person face pick "
            "come drive walk take visit school schools address addy location zip postcode post "
            "mall park store bus station",
        ),
    ),
    (
        Signal.GIFTS,
        _rule(
            "|".join(
                (
                    # "i'll buy you ...": buying for a stranger is a gift, whatever the object
                    rf"\b{_I_WILL}\s+(?:buy|pay\s+for)\s+(?:{_Y}|ya|{_YR})\b",
                    # send/give/get only with a gift-like object ("i'll send you the link" is not)
                    rf"\b{_I_WILL}\s+(?:get|give|send|gift)\s+(?:{_Y}|ya)\s+(?:a\s+|an\s+|some\s+|"
                    rf"free\s+|\d+\s+|the\s+|a\s+new\s+|discord\s+)?(?:{_GIFT_OBJECTS})\b",
                    r"\bwant\s+(?:free|some)\s+(?:robux|v-?bucks|nitro|skins|gift\s?cards?|money|"
                    r"cash)\b",
                    rf"\b(?:do\s+)?{_Y}\s+want\s+(?:an?\s+|some\s+|free\s+)?(?:{_CARD_BRANDS})?"
                    rf"(?:gift\s?cards?|robux|v-?bucks|nitro|money|cash|skins)\b",
                    r"\bfree\s+(?:robux|v-?bucks|nitro)\b",
                    rf"\bwant\s+(?:an?\s+|some\s+|free\s+)?(?:{_CARD_BRANDS})?(?:robux|v-?bucks|"
                    rf"nitro|gift\s?cards?|skins)\s*\?",
                    rf"\b(?:i'?ll|ill|i\s+will|i\s+can|i\s+could)\s+pay\s+{_Y}\b",
                    rf"\bi\s+(?:got|bought|have|'?ve\s+got)\s+(?:{_Y}|ya)\s+(?:a\s+|an\s+|some\s+)?"
                    rf"(?:presents?|gifts?|surprise|robux|v-?bucks|nitro|something)\b",
                    rf"\b(?:a\s+)?(?:present|gift|surprise)\s+for\s+{_Y}\b",
                    rf"\b(?:i'?ll|ill|i\s+will|i\s+can)\s+(?:venmo|paypal|cashapp|cash\s+app)\s+"
                    rf"{_Y}\b",
                )
            ),
            "buy pay venmo paypal cashapp cash robux vbucks bucks money gift gifts giftcard "
            "giftcards card cards skin skins nitro coins gems present presents something anything "
            "stuff phone clothes pass amazon steam premium surprise",
        ),
    ),
    (
        Signal.SEXUAL,
        _rule(
            "|".join(
                (
                    rf"\b{_R}\s+{_Y}\s+(?:a\s+|still\s+a\s+)?virgin\b",
                    rf"\b(?:have|did|ever)\s+{_Y}\s+(?:ever\s+)?(?:had\s+sex|kissed|been\s+kissed|"
                    rf"done\s+it|made\s+out|been\s+touched|touched\s+(?:yourself|urself))\b",
                    rf"\bwhat\s+{_R}\s+{_Y}\s+wearing\b(?!\s+(?:to|for|at|on|tomorrow|tonight)\b)",
                    r"\b(?:you'?re|youre|ur|u\s+r|you\s+are|u\s+are)\s+(?:so\s+|really\s+|very\s+|"
                    r"kinda\s+|so+\s+)?(?:sexy|hot|thicc|horny)\b",
                    rf"\b(?:do|did)\s+{_Y}\s+(?:ever\s+)?(?:touch|play\s+with|finger)\s+(?:yourself|"
                    rf"urself)",
                    r"\bmasturbat|\bjerk(?:ing)?\s+off\b|\bsext(?:ing)?\b|\bnudes?\b|\bnaked\b|"
                    r"\bhorny\b|\bboobs?\b|\btits\b|\bpussy\b|\bcock\b|\bpenis\b|\bvagina\b|\bcum\b|"
                    r"\borgasm|\bthong\b",
                    rf"\bbra\s+size|\b{_R}\s+{_Y}\s+wearing\s+(?:a\s+|any\s+|{_YR}\s+)?(?:bra|"
                    rf"panties|underwear|anything|pajamas|pyjamas|pjs|clothes)",
                    rf"\b{_Y}\s+(?:have|got)\s+(?:a\s+|such\s+a\s+)?(?:nice|hot|sexy|great|amazing|"
                    rf"perfect)\s+(?:body|butt|ass|legs|boobs|chest|figure)\b",
                    r"\btalk\s+dirty|\bdirty\s+talk|\bturn(?:s|ed)?\s+me\s+on\b",
                    r"\bi'?m\s+(?:so\s+)?hard\b(?!\s+stuck)(?=\s*(?:[.!?,]|$|\bfor\b|\brn\b|\bnow\b|"
                    r"\bthinking))",
                    r"\bkiss\s+(?:you|u|ya)\s+all\s+over|\b(?:have|had|having)\s+sex\b|"
                    r"\bsex\b(?!\s+ed\b|\s+education)",
                    rf"\bshow\s+me\s+{_YR}\s+(?:body|boobs|tits|chest|butt|ass|bra)\b",
                    r"\bsend\s+(?:me\s+)?(?:something|smth|sth)\s+(?:hot|sexy|spicy|naughty|dirty)\b",
                    r"\b(?:spicy|naughty|dirty)\s+(?:pics?|photos?|pictures?|selfies?|stuff|things)\b",
                    rf"\b{_YR}\s+(?:body|legs|butt|ass|lips|boobs|chest|thighs)\s+(?:is|are|r|looks?)"
                    rf"\s+(?:so\s+|really\s+|very\s+)?(?:hot|sexy|nice|thicc|amazing|perfect|fine)\b",
                    r"\bdo\s+(?:stuff|it|naughty\s+things|dirty\s+things)\s+with\s+me\b",
                )
            ),
            "virgin sex kissed done made touched wearing sexy hot thicc horny touch play finger "
            "jerk jerking sext sexting nude nudes naked boob boobs tits pussy cock penis vagina "
            "cum thong bra talk dirty turn turns turned hard kiss body butt ass chest legs lips "
            "thighs figure something smth sth spicy naughty stuff it",
            ("masturbat", "orgasm"),
        ),
    ),
)


# Flattery aimed at a child, in English (the other languages' are below).
_FLATTERY_EN: Final = _rule(
    "|".join(
        (
            rf"\b(?:so\s+|really\s+|very\s+)?mature\s+for\s+(?:{_YR}|a)\s+(?:age|\d{{1,2}})",
            rf"\b{_Y}\s+(?:don'?t|dont|do\s+not)\s+(?:act|seem|sound|look)\s+(?:like\s+)?"
            rf"(?:a\s+)?1\d",
            rf"\b(?:you'?re|youre|ur|u\s+r|you\s+are)\s+(?:so\s+|really\s+|very\s+)?"
            rf"(?:pretty|beautiful|cute|gorgeous|mature|special)\s+for\s+(?:{_YR}\s+age|a\s+1\d)",
            r"\bnot\s+like\s+other\s+(?:girls|boys|kids)\b",
            rf"\b{_Y}\s+(?:seem|are|r)\s+(?:so\s+|really\s+)?(?:mature|grown\s+up|older)\s+"
            rf"for\b",
            rf"\b{_Y}\s+must\s+be\s+(?:really\s+|so\s+)?(?:smart|pretty|popular)\b",
        )
    ),
    "mature act seem sound look pretty beautiful cute gorgeous special other grown older smart "
    "popular",
)

# ---- Indonesian, Spanish and Hinglish -------------------------------------------------------
# Informal chat spelling: "kamu"/"km"/"lu", "q" for "que", "h" for "hai". The Indonesian rules
# read the line's Indonesian form (affixes.py): roots and one spelling per word ("umurmu" reads
# "umur mu", "dihapusin" stays "dihapusin", "menghapus" reads "hapus", "brp" reads "berapa",
# "gk" reads "gak"), so they name roots and those spellings only.
_ID_Y = r"(?:kamu|km|mu|lu|lo|loe|elu|elo|kak|dek|adek|ade|anda|ka)"
_ID_I = r"(?:aku|ak|gue|gw|gua|saya|ku|q|om|kakak)"
_ID_PARENT = (
    r"(?:orang\s?tua|ortu|mama|mamah|mami|papa|papah|papi|ibu|bapak|ayah|bunda|emak|"
    r"nyokap|bokap|keluarga)"
)
_ID_PARENT_WORDS = (
    "orang tua orangtua ortu mama mamah mami papa papah papi ibu bapak ayah bunda emak nyokap "
    "bokap keluarga"
)
_ID_WHERE = r"(?:dimana|di\s+mana|mana)"
# What is given as a gift, and the verbs of giving, as the Indonesian form writes them.
_ID_GIFT_OBJECTS = (
    r"(?:pulsa|kuota|diamond|diamonds|dm|uang|duit|saldo|ovo|gopay|dana|robux|uc|skin|hadiah|hp|"
    r"voucher|kado|sesuatu)"
)
_ID_GIVE = (
    r"(?:kasih|kasihin|beliin|kirimin|transfer|transferin|tf|tfin|topup|topupin|top\s+up|isiin|"
    r"traktir|traktirin|bayarin|jajanin)"
)
_ID_GIVE_WORDS = (
    "kasih kasihin beliin kirimin transfer transferin tf tfin topup topupin top isiin traktir "
    "traktirin bayarin jajanin"
)
_ES_PARENT = r"(?:papas|papa|padres|mama|mami|papi|jefes|familia|mamas)"
_HI_Y = r"(?:tum|tu|aap|ap|tm)"
_HI_YR = r"(?:tumhari|tumhara|tumhare|teri|tera|tere|aapki|aapka|aapke|apki|apka|apke)"
_HI_PARENT = (
    r"(?:mummy|mommy|mom|mumma|papa|papa\s?ji|dad|daddy|parents|ghar\s+(?:wale|walo|walon|vale|"
    r"valo)|ammi|abbu|mammi)"
)
_HI_HO = r"(?:ho|h|hai|he|hain|hu|hoo)"

_I18N_SIGNAL_RULES: Final[tuple[tuple[Signal, _Rule], ...]] = (
    # ---- id ----
    (
        Signal.AGE,
        _rule(
            "|".join(
                (
                    # "umur kamu berapa", "umurnya brp", "kamu umurnya berapa", "usiamu berapa"
                    rf"\b(?:{_ID_Y}\s+)?(?:umur|usia)(?:\s+(?:nya|{_ID_Y})){{0,2}}\s+berapa\b",
                    r"\bberapa\s+(?:umur|usia|tahun|thn|taun)\b(?!\s+lagi)",
                    rf"\bkelas(?:\s+(?:nya|{_ID_Y}))?\s+berapa\b|\b{_ID_Y}\s+kelas\s+berapa\b",
                    rf"\b(?:{_ID_Y}\s+)?(?:masih\s+)?(?:sd|smp|sma|smk)\s*(?:\?|ya\s*\?|kan\s*\?|"
                    rf"atau\s+(?:sd|smp|sma|smk|kuliah))",
                    # "udah smp belum", "masih sd kan": asking which school stage
                    r"\b(?:udah|masih|baru)\s+(?:sd|smp|sma|smk)\s+(?:belum|apa\s+belum|kan|ya)\b",
                    r"\b(?:masih\s+sekolah|lahir\s+tahun\s+berapa|angkatan\s+berapa|masih\s+bocil)"
                    r"\b",
                    # "udah 17 belum?", "udah 18 tahun?"
                    r"\budah\s+1\d\s+(?:tahun\s+)?(?:belum|\?)",
                    r"\bumur\s*\?",
                )
            ),
            # the numbers: "udah 17 belum?"
            "umur usia tahun thn taun kelas sd smp sma smk sekolah lahir angkatan bocil "
            + " ".join(str(n) for n in range(10, 20)),
            lang="id",
        ),
    ),
    (
        Signal.ISOLATION,
        _rule(
            "|".join(
                (
                    rf"\b(?:{_ID_Y}\s+)?(?:lagi\s+)?(?:sendirian|sendiri)\s*(?:aja\s*|ya\s*|kan\s*|"
                    rf"doang\s*|gak\s*)?(?:di\s+rumah|dirumah|di\s+kamar|dikamar)?\s*\?",
                    r"\b(?:di\s+rumah|dirumah)\s+(?:ada\s+)?(?:siapa|orang)\b",
                    # "rumahmu lagi kosong?", "di rumah lagi gak ada orang?" (not "... listrik")
                    rf"\brumah\s+(?:{_ID_Y}\s+)(?:lagi\s+)?(?:kosong|sepi|gak\s+ada\s+(?:orang|siapa)|"
                    rf"ada\s+(?:orang|siapa))\b",
                    r"\b(?:di\s+rumah|dirumah)\s+(?:lagi\s+)?(?:kosong|sepi|gak\s+ada\s+(?:orang|"
                    r"siapa))\s*(?:ya\s*|kan\s*|gak\s*)?\?",
                    r"\b(?:sering|suka)\s+ditinggal\s+(?:sendiri|sendirian)\b",
                    rf"\b(?:{_ID_Y}\s+)?(?:lagi\s+)?sendirian\s+(?:di\s+rumah|dirumah|di\s+kamar|"
                    rf"dikamar)",
                    r"\b(?:ada|siapa)\s+(?:orang|siapa|yang)?\s*(?:aja\s+)?(?:lagi\s+)?"
                    r"(?:di\s+rumah|dirumah)",
                    rf"\b{_ID_PARENT}\s*(?:{_ID_Y}\s+)?(?:lagi\s+)?(?:{_ID_WHERE}|kemana|ke\s+mana|"
                    rf"pergi|kerja|ada\s+di\s+rumah|ada\s*\?|gak\s+ada|di\s+rumah|dirumah|tidur|"
                    rf"galak|gak\s+ngerti|jahat|pulang)",
                    rf"\b(?:cuma|hanya)\s+{_ID_I}\s+yang\s+(?:ngerti|paham|peduli|sayang)",
                    rf"\b{_ID_Y}\s+(?:bisa|boleh)\s+percaya\s+(?:sama\s+|pada\s+|ke\s+)?{_ID_I}\b",
                    rf"\b{_ID_PARENT}\s*(?:{_ID_Y}\s+)?(?:suka\s+)?(?:cek|periksa|liat)\s+"
                    rf"(?:hp|handphone|chat)",
                )
            ),
            "sendirian sendiri ada siapa cuma hanya percaya rumah dirumah ditinggal "
            + _ID_PARENT_WORDS,
            lang="id",
        ),
    ),
    (
        Signal.SECRECY,
        _rule(
            "|".join(
                (
                    # "jangan bilang", "jgn ceritain", "gausah laporin", "jangan kasih tau"
                    r"\b(?:jangan|jan|gak\s+usah)\s+(?:(?:ya|yah)\s+)?(?:di)?(?:bilang|cerita|lapor|"
                    r"adu|ngomong|omong|kasih\s+(?:tau|liat))",
                    r"\bjangan\s+sampai\s+(?:\w+\s+){0,3}(?:tau|liat|ketauan)\b",
                    r"\brahasia\s+(?:kita|berdua)\b|\b(?:ini|jadi)\s+rahasia\b",
                    # "rahasiain ya", "dirahasiain dari ortu" (not "rahasiain kejutannya")
                    rf"\b(?:di)?rahasiain\b(?:\s+(?:ya|yah|aja|dong|ini|itu|semua|obrolan|chat|"
                    rf"kita)){{0,3}}(?:\s+(?:dari|ke)\s+(?:{_ID_PARENT}|siapa|siapapun|orang|"
                    rf"semua|temen|teman)|\s*(?:[?!.,]|$))",
                    # "hapus chat", "hapusin ya chatnya", "ngapus semua pesan"
                    r"\b(?:di)?(?:hapus|delete)(?:in)?\s+(?:(?:aja|ya|yah|dong|deh|sekarang|nanti|semua|"
                    r"juga|lagi)\s+){0,2}(?:chat|pesan|pesannya|percakapan|obrolan|history|riwayat|"
                    r"foto(?!\s+(?:nya\s+)?(?:lama|jelek|blur|yang\s+(?:blur|jelek)))|semua)",
                    r"\b(?:antara|cuma)\s+kita\s+(?:aja|berdua|doang)\b|\bantara\s+kita\s*(?:[?!.,]|$|"
                    r"ya\b)",
                    # the passive: "chatnya dihapus ya", "fotonya langsung diapus"
                    r"\b(?:chat|pesan|pesannya|percakapan|obrolan|history|riwayat|foto)"
                    r"(?:\s+(?:nya|kita|ini|itu))?\s+(?:(?:nanti|harus|langsung|terus|udah|aja|ya)"
                    r"\s+)?(?:di)?(?:hapus|delete)(?:in)?\b",
                    r"\b(?:gak|jangan)\s+(?:ada\s+)?(?:yang|boleh)\s+(?:boleh\s+)?tau\b",
                    # "ortumu gak usah tau", "biar mamamu gak tau" (not "kamu gak usah tau")
                    rf"\b{_ID_PARENT}\s*(?:{_ID_Y}\s+)?(?:gak|jangan)\s+(?:usah|perlu|boleh)\s+tau\b",
                    rf"\b(?:biar|supaya|asal)\s+{_ID_PARENT}\s*(?:{_ID_Y}\s+)?gak\s+tau\b",
                    rf"\b(?:di)?sembunyi(?:in)?\s+(?:\w+\s+){{0,2}}dari\s+(?:{_ID_PARENT}|orang|"
                    rf"siapa)",
                )
            ),
            "jangan jan usah rahasia rahasiain dirahasiain hapus hapusin dihapus dihapusin delete "
            "deletein didelete dideletein antara cuma tau sembunyi sembunyiin disembunyiin",
            lang="id",
        ),
    ),
    (
        Signal.IMAGES,
        _rule(
            "|".join(
                (
                    r"\b(?:kirim|kirimin|send|minta|bagi|bagiin|liatin|share|sharein|spill)\s+(?:(?:dong|"
                    r"ya|aja|sekarang|lagi|juga)\s+)?(?:foto|pic|selfie|video|vid|pap|gambar)\b"
                    r"(?!\s+(?:nya\s+)?(?:tugas|pr|soal|catatan|jadwal|materi|kucing|makanan|"
                    r"pemandangan))",
                    r"\bpap\s*(?:dong|dulu|yuk|ya|\?|sekarang|muka|badan|kamu|mu)|\b(?:minta|mana)\s+"
                    r"pap\b|^\s*pap\s*$",
                    rf"\bfoto\s*{_ID_Y}\s*(?:dong|mana|kayak|kaya|gimana)",
                    # the object first: "fotomu kirimin dong"
                    rf"\b(?:foto|pap|video)\s+{_ID_Y}\s+(?:kirim|kirimin|send|share|sharein)\b",
                    r"\b(?:nyala|hidup|buka|on)(?:\s?in)?\s+(?:kamera|cam|camera|video)",
                    rf"\b(?:mau|pengen|ingin|boleh)\s+liat\s+(?:muka|wajah|badan|tubuh|foto)?\s*"
                    rf"{_ID_Y}\b",
                    rf"\bliat(?:in)?\s+(?:(?:dong|ya|deh)\s+)?(?:muka|wajah|badan|body|tubuh)\s+"
                    rf"{_ID_Y}\b",
                    # "fotoin diri kamu", "videoin badan mu dong": take pictures of yourself
                    rf"\b(?:foto|video|rekam|pap)in\s+(?:(?:dong|ya|deh|aja)\s+)?(?:(?:diri|badan|"
                    rf"muka|wajah|tubuh|kaki|dada)\s+)?(?:{_ID_Y}|sendiri)\b",
                )
            ),
            "kirim kirimin send minta bagi bagiin liatin share sharein spill pap foto nyala "
            "nyalain muka wajah badan body tubuh "
            "hidup hidupin buka bukain on onin mau pengen ingin boleh mana fotoin videoin rekamin "
            "papin",
            lang="id",
        ),
    ),
    (
        Signal.SEXUAL,
        _rule(
            r"\b(?:bugil|telanjang|tlanjang|bokep|sange|ngewe|toket|tetek|memek|kontol|seksi|"
            r"montok|bh\s+(?:warna|ukuran)|cd\s+warna|perawan|masturbasi|coli|colmek|vcs|"
            r"tanpa\s+baju|gak\s+pakai\s+baju|(?:buka|lepas|copot)(?:in)?\s+(?:baju|celana|bh)|"
            r"pakai\s+baju\s+apa|pernah\s+(?:ciuman|dicium|cium)|ciuman\s+belum|"
            r"ukuran\s+(?:bh|dada|beha)|(?:badan|body|tubuh)\s+(?:mu|kamu)\s+(?:(?:pasti|kayaknya)\s+)?"
            r"(?:bagus|mulus|seksi|montok|bohay))\b",
            "bugil telanjang tlanjang bokep sange ngewe toket tetek memek kontol seksi montok bh "
            "cd perawan masturbasi coli colmek vcs tanpa buka bukain lepas lepasin copot "
            "copotin pakai pernah ciuman ukuran badan body tubuh",
            lang="id",
        ),
    ),
    (
        Signal.GIFTS,
        _rule(
            "|".join(
                (
                    rf"\b(?:{_ID_I}\s+|nanti\s+)(?:bisa\s+|mau\s+)?{_ID_GIVE}\s+(?:{_ID_Y}\s+)?"
                    rf"{_ID_GIFT_OBJECTS}",
                    # the passive offer: "mau dibeliin skin?", "mau ditraktir diamond ga"
                    rf"\b(?:mau|pengen|butuh)\s+di{_ID_GIVE}\s+{_ID_GIFT_OBJECTS}",
                    # treating: "nanti aku jajanin", "mau dijajanin?", "mau ditraktir gak"
                    rf"\b(?:{_ID_I}|nanti)\s+(?:{_ID_I}\s+)?jajanin\b|\bmau\s+di(?:jajanin|traktir|"
                    rf"traktirin|beliin)\s*(?:gak|\?|$)",
                    r"\b(?:mau|butuh|pengen)\s+(?:pulsa|kuota|diamond|diamonds|uang|duit|saldo|"
                    r"robux|uc|skin)\s*(?:gratis|gak|\?)",
                    r"\b(?:pulsa|kuota|diamond|diamonds|robux|uc|saldo)\s+gratis\b",
                    # "aku beliin", but not "aku beliin mama kado"
                    rf"\b{_ID_I}\s+(?:beliin|transferin|tfin|isiin|traktir|traktirin|bayarin|"
                    rf"jajanin)\b"
                    rf"(?!\s+(?:{_ID_PARENT}|adik|adek|kakak|nenek|kakek|temen|teman|pacar)\b)",
                )
            ),
            _ID_GIVE_WORDS
            + " "
            + " ".join("di" + w for w in _ID_GIVE_WORDS.split())
            + " pulsa kuota diamond diamonds uang duit saldo robux uc skin",
            lang="id",
        ),
    ),
    (
        Signal.MEETING,
        _rule(
            "|".join(
                (
                    rf"\b(?:rumah|alamat|tinggal|sekolah|kos|kost)\s*(?:{_ID_Y}\s*)?(?:di\s+)?"
                    rf"{_ID_WHERE}\b",
                    rf"\b{_ID_Y}\s+(?:tinggal|sekolah)\s+(?:dimana|di\s+mana|daerah\s+mana)",
                    r"\b(?:ketemuan|ketemu|kopdar|meet\s?up|jalan\s+bareng)\s*(?:yuk|yok|kuy|ayo|"
                    r"yu|mau|kapan|gak|dong|\?|di|besok|nanti|aja)",
                    r"\b(?:ayo|yuk|mau|kapan|bisa|boleh)\s+(?:kita\s+)?(?:ketemuan|ketemu|kopdar|"
                    r"jalan\s+bareng)",
                    rf"\b{_ID_I}\s+(?:jemput|jemputin|samperin|datangin|datang\s+ke|main\s+ke)\b",
                    # "aku ke rumahmu ya", "aku tungguin di depan sekolahmu"
                    rf"\b{_ID_I}\s+(?:(?:main|datang|tunggu|tungguin|nunggu)\s+)?(?:ke|di)\s+"
                    rf"(?:depan\s+)?(?:rumah|sekolah|kos|kost|kamar)\s+(?:mu|kamu|lu)\b",
                    rf"\b{_ID_I}\s+(?:tunggu|tungguin)\s+(?:{_ID_Y}\s+)?(?:di|depan)\b",
                    r"\bpulang\s+sekolah\s+jam\s+berapa\b|\bjalan\s+berdua\b",
                    rf"\b(?:alamat|shareloc|share\s+loc|lokasi)\s*(?:{_ID_Y}\s*|nya\s*)?"
                    rf"(?:dong|mana|apa|\?)",
                    r"\bsekolah(?:\s+(?:nya|mu))?\s+(?:dimana|di\s+mana|apa)",
                    r"\bdaerah\s+mana\b",
                )
            ),
            "rumah alamat tinggal sekolah kos kost ketemuan ketemu kopdar meet meetup jalan ayo "
            "yuk mau kapan bisa boleh jemput jemputin samperin datangin datang main shareloc "
            "share lokasi daerah tunggu tungguin pulang berdua",
            lang="id",
        ),
    ),
    (
        Signal.FLATTERY,
        _rule(
            rf"\b{_ID_Y}\s+(?:cantik|manis|imut|lucu|dewasa|pinter|pintar|ganteng|cakep|spesial|"
            rf"istimewa|beda)\s+(?:banget|sekali|deh|loh|untuk|buat|dari)\b|"
            rf"\b(?:dewasa|cantik)\s+(?:banget\s+)?(?:untuk|buat)\s+(?:umur|anak)|"
            rf"\b(?:lebih\s+)?dewasa\s+dari\s+(?:umur|usia)|"
            rf"\bbeda\s+dari\s+(?:anak|cewek|cewe|cowok|cowo)\s+(?:lain|seumuran)",
            "cantik manis imut lucu dewasa pinter pintar ganteng cakep spesial istimewa beda",
            lang="id",
        ),
    ),
    # ---- es ----
    (
        Signal.AGE,
        _rule(
            "|".join(
                (
                    r"\bcuantos\s+anos\s+(?:tienes|tenes|tiene|cumples)\b|\bque\s+edad\s+"
                    r"(?:tienes|tenes|tiene)\b|\btu\s+edad\s*\?|\bedad\s*\?",
                    r"\b(?:en\s+)?(?:que|cual)\s+(?:grado|curso|ano|año|semestre)\s+(?:estas|vas|"
                    r"cursas)\b",
                    r"\b(?:vas|vas\s+a\s+la|estas\s+en\s+la)\s+(?:primaria|secundaria|prepa|"
                    r"escuela|cole|colegio|secu)\b(?!\s+(?:de|del)\b)",
                    r"\beres\s+menor\b|\beres\s+mayor\s+de\s+edad\b",
                    r"\b(?:cuando|que\s+dia)\s+(?:es\s+)?tu\s+cumple",
                    r"\b(?:tienes|tenes)\s+1\d\s*\?",
                )
            ),
            "cuantos edad grado curso ano semestre vas estas eres cuando dia cumple tienes tenes",
            lang="es",
        ),
    ),
    (
        Signal.ISOLATION,
        _rule(
            "|".join(
                (
                    r"\bestas\s+(?:sol[oa]|solit[oa])\b|\b(?:te\s+)?quedaste\s+sol[oa]\b",
                    r"\bhay\s+alguien\s+(?:en\s+(?:tu\s+)?casa|contigo|ahi|cerca|mas)\b",
                    rf"\b(?:donde|a\s+que\s+hora)\s+(?:estan|llegan|vuelven|regresan)\s+tus\s+"
                    rf"{_ES_PARENT}",
                    rf"\btus\s+{_ES_PARENT}\s+(?:estan|no\s+estan|trabajan|salieron|llegan|"
                    rf"duermen|estan\s+en\s+casa|no\s+te\s+entienden|no\s+te\s+quieren|son\s+"
                    rf"(?:muy\s+)?(?:estrictos|malos|pesados)|revisan|te\s+revisan|ven\s+tu)",
                    r"\bsolo\s+yo\s+te\s+(?:entiendo|comprendo|quiero|cuido)\b",
                    r"\bpuedes\s+confiar\s+(?:en\s+)?(?:mi|solo\s+en\s+mi)\b",
                    r"\bnadie\s+te\s+(?:entiende|quiere|comprende)\s+como\s+yo\b",
                )
            ),
            "estas quedaste hay donde hora tus solo puedes nadie",
            lang="es",
        ),
    ),
    (
        Signal.SECRECY,
        _rule(
            "|".join(
                (
                    r"\bno\s+(?:le\s+|les\s+|se\s+lo\s+|lo\s+)?(?:digas|cuentes|menciones|ensenes|"
                    r"muestres)\s+(?:nada\s+)?(?:a\s+(?:nadie|tus|tu|tu\s+mama|tu\s+papa)|nada|esto)",
                    r"\b(?:nuestro|es\s+un|un)\s+(?:pequeno\s+)?(?:secreto|secretito)\b(?!\s+"
                    r"(?:de\s+(?:cocina|la\s+receta)))",
                    r"\b(?:borra|borrar|elimina|eliminar|borremos)\s+(?:el\s+|los\s+|la\s+|este\s+|"
                    r"esta\s+|todo\s+)?(?:chat|chats|mensajes|conversacion|historial|fotos|esto)\b",
                    r"\bentre\s+tu\s+y\s+yo\b|\bque\s+nadie\s+se\s+entere\b|\bque\s+quede\s+"
                    r"entre\s+nosotros\b|\bnadie\s+(?:tiene|debe)\s+que\s+saber",
                )
            ),
            "no secreto secretito borra borrar elimina eliminar borremos entre nadie quede",
            lang="es",
        ),
    ),
    (
        Signal.IMAGES,
        _rule(
            "|".join(
                (
                    r"\b(?:mandame|enviame|pasame|manda|envia|pasa|mandas|envias|pasas)\s+"
                    r"(?:me\s+)?(?:una\s+|unas\s+|tu\s+|tus\s+|otra\s+|mas\s+)?(?:foto|fotos|"
                    r"fotito|fotitos|selfie|selfies|pic|pics|video|videos)\b(?!\s+de\s+(?:la|el|"
                    r"los|las|tarea|tu\s+perro|tu\s+gato))",
                    r"\b(?:una\s+)?(?:foto|fotos|selfie|video)\s+tuy[oa]s?\b",
                    r"\b(?:quiero|dejame|me\s+dejas|puedo)\s+verte\b|\bquiero\s+ver\s+(?:tu\s+"
                    r"(?:cara|cuerpo)|como\s+eres)",
                    r"\b(?:prende|enciende|activa|pon)\s+(?:la\s+|tu\s+)?(?:camara|cam|webcam)\b",
                    r"\bmuestrame\s+(?:tu|tus|como)\b|\bensename\s+(?:tu|tus)\s+(?:cara|cuerpo)",
                )
            ),
            "mandame enviame pasame manda envia pasa mandas envias pasas foto fotos selfie "
            "quiero dejame me puedo prende enciende activa pon muestrame ensename fotito fotitos",
            lang="es",
        ),
    ),
    (
        Signal.SEXUAL,
        _rule(
            r"\b(?:desnud[oa]s?|encuerad[oa]|sin\s+ropa|eres\s+virgen|sigues\s+(?:siendo\s+)?"
            r"virgen|que\s+(?:llevas|traes|tienes)\s+puesto|ropa\s+interior|calzones|tanga|"
            r"sexo|sexy|tetas|pechos|culo|pene|vagina|masturba\w*|cachond[oa]|caliente\s+(?:estoy|"
            r"ahorita)|estoy\s+caliente|el\s+pack|tu\s+pack|pasa\s+pack|fotos?\s+hot|"
            r"alguna\s+vez\s+(?:has\s+)?besado|has\s+besado)\b",
            "desnudo desnuda desnudos desnudas encuerado encuerada sin eres sigues que ropa "
            "calzones tanga sexo sexy tetas pechos culo pene vagina cachondo cachonda caliente "
            "estoy el tu pasa foto fotos alguna has",
            ("masturba",),
            lang="es",
        ),
    ),
    (
        Signal.GIFTS,
        _rule(
            "|".join(
                (
                    r"\bte\s+(?:compro|regalo|doy|mando|envio|pago|recargo|paso|deposito|puedo\s+"
                    r"(?:comprar|regalar|dar|mandar|recargar))\s+(?:un\s+|una\s+|unos\s+|unas\s+|"
                    r"\d+\s+)?(?:robux|pavos|diamantes|dinero|plata|lana|saldo|recarga|regalo|regalos|"
                    r"algo|lo\s+que\s+quieras|skins?|tarjeta|celular|ropa|gemas|monedas)",
                    r"\b(?:quieres|queres)\s+(?:unos\s+|mas\s+)?(?:robux|pavos|diamantes|dinero|"
                    r"saldo|recarga|regalo|skins?|gemas)\b",
                    r"\b(?:robux|pavos|diamantes)\s+gratis\b",
                    r"\bte\s+(?:hago|pongo)\s+(?:una\s+)?recarga\b",
                )
            ),
            "te quieres queres robux pavos diamantes gratis",
            lang="es",
        ),
    ),
    (
        Signal.MEETING,
        _rule(
            "|".join(
                (
                    r"\bdonde\s+vives\b|\ben\s+que\s+(?:ciudad|colonia|barrio|zona|parte|calle)\s+"
                    r"vives\b|\bvives\s+cerca\b",
                    r"\b(?:nos\s+vemos|vernos|veamonos|conocernos|quedamos|quedemos)\s+(?:en\s+"
                    r"persona|un\s+dia|algun\s+dia|manana|hoy|el\s+(?:sabado|domingo|viernes))\b|"
                    r"\b(?:podemos|quieres|queres)\s+(?:vernos|conocernos|salir\s+conmigo)\b",
                    r"\b(?:te\s+(?:recojo|busco|paso\s+a\s+buscar|visito)|voy\s+a\s+tu\s+(?:casa|"
                    r"escuela|colegio)|paso\s+por\s+ti)\b",
                    r"\b(?:a\s+)?que\s+(?:escuela|colegio|secundaria|prepa|secu)\s+vas\b|"
                    r"\bcual\s+es\s+tu\s+(?:escuela|colegio)\b|\bcomo\s+se\s+llama\s+tu\s+"
                    r"(?:escuela|colegio)\b",
                    r"\b(?:pasame|dame|cual\s+es)\s+tu\s+(?:direccion|ubicacion)\b|\btu\s+"
                    r"(?:direccion|ubicacion)\s*\?",
                )
            ),
            "donde vives nos vernos veamonos conocernos quedamos quedemos podemos quieres queres "
            "te voy paso que escuela colegio cual como pasame dame tu direccion ubicacion",
            lang="es",
        ),
    ),
    (
        Signal.FLATTERY,
        _rule(
            r"\beres\s+(?:muy\s+|tan\s+|bien\s+)?(?:madur[oa]|linda|bonita|hermosa|guapa|"
            r"preciosa|especial|inteligente)\s+(?:para\s+tu\s+edad|para\s+tener)|\bmuy\s+"
            r"madur[oa]\b|\bpareces\s+(?:mas\s+)?mayor\b|\bno\s+eres\s+como\s+(?:las\s+)?"
            r"(?:otras|otros)\b|\beres\s+(?:muy\s+|tan\s+)?(?:especial|preciosa|hermosa)\b",
            "eres muy pareces no",
            lang="es",
        ),
    ),
    # ---- hi (Hinglish) ----
    (
        Signal.AGE,
        _rule(
            "|".join(
                (
                    rf"\b(?:{_HI_YR}\s+)?(?:umar|umr|umra|age)\s+(?:kya|kitni|ktni|kitna)\b",
                    rf"\b(?:{_HI_Y}\s+)?kitne\s+(?:saal|sal|years?)\s+(?:ki|ke|ka)\s+{_HI_HO}",
                    rf"\b{_HI_Y}\s+kitne\s+(?:ki|ke|ka)\s+{_HI_HO}\b",
                    r"\b(?:kaunsi|konsi|kon\s?si|kaun\s+si|kis|kitni|konsi)\s+(?:class|klass|"
                    r"standard|std|grade)\b",
                    r"\bclass\s+(?:kya|kaunsi|konsi)\b",
                    rf"\bschool\s+(?:jaate|jati|jate|jaati|jaatey)\s+{_HI_HO}",
                )
            ),
            "umar umr umra age kitne kaunsi konsi kon kaun kis kitni class school",
            lang="hi",
        ),
    ),
    (
        Signal.ISOLATION,
        _rule(
            "|".join(
                (
                    r"\b(?:ghar|ghr|room|kamre)\s+(?:pe|par|pr|me|mein|mai)\s+(?:akele|akeli|akela|"
                    r"koi|kaun)\b",
                    rf"\b(?:{_HI_Y}\s+)?(?:abhi\s+)?(?:akele|akeli|akela)\s+{_HI_HO}\b",
                    rf"\b{_HI_PARENT}\s+(?:kahan|kaha|kidhar|ghar\s+pe|ghar\s+par|ghar\s+me|"
                    rf"bahar|office|kaam\s+pe)\b",
                    rf"\b(?:{_HI_YR}\s+)?{_HI_PARENT}\s+(?:tumhe|tumko|tujhe|aapko)\s+(?:nahi|nhi|"
                    rf"na)\s+(?:samajhte|samjhte|samajhti|samjhenge)",
                    r"\b(?:sirf|bas)\s+(?:main|mai|me)\s+(?:tumhe|tumko|tujhe)\s+(?:samajhta|"
                    r"samajhti|samjhta)",
                    r"\bmujh\s?pe\s+(?:bharosa|trust)\s+(?:karo|kar\s+sakte|kar\s+sakti)",
                    rf"\b{_HI_PARENT}\s+(?:{_HI_YR}\s+)?(?:phone|chat|mobile)\s+(?:check|dekhte|"
                    rf"dekhti)",
                )
            ),
            "ghar ghr room kamre akele akeli akela mummy mumm mommy mom mumma papa dad daddy "
            "parents ammi abbu mammi sirf bas mujh mujhpe mumma",
            lang="hi",
        ),
    ),
    (
        Signal.SECRECY,
        _rule(
            "|".join(
                (
                    r"\b(?:kisi\s*ko|kisiko|mummy\s+papa\s+ko|mummy\s+ko|papa\s+ko|ghar\s+pe|"
                    r"ghar\s+(?:wale|walon|walo)\s+ko|parents\s+ko|ghar\s+me|dost\s+ko|friends\s+ko|"
                    r"mom\s+dad\s+ko|maa\s+ko)\s+(?:kuch\s+)?(?:mat|mt|nahi|nhi|na)\s+(?:batana|"
                    r"btana|bolna|kehna|batao|bataana|dikhana)",
                    r"\b(?:ye|yeh|yah|ye\s+baat)\s+(?:hamara|humara|apna|hum\s+dono\s+ka)\s+"
                    r"(?:secret|raaz|raz)\b|\b(?:hamara|humara)\s+(?:secret|raaz)\b",
                    r"\b(?:chat|msg|messages|photos?|pic)\s+delete\s+(?:kar|kr)\s*(?:do|dena|dijiye|"
                    r"lena)?\b|\bdelete\s+(?:kar|kr)\s+(?:dena|do)\b",
                    r"\bhum\s+dono\s+(?:ke\s+beech|tak)\b|\bkisi\s*ko\s+pata\s+(?:nahi|nhi|na)\s+"
                    r"(?:chalna|chale|chalega)",
                )
            ),
            "kisi kisiko mummy papa ghar parents dost friends mom maa ye yeh yah hamara humara "
            "chat msg messages photo photos pic delete hum",
            lang="hi",
        ),
    ),
    (
        Signal.IMAGES,
        _rule(
            "|".join(
                (
                    r"\b(?:apni|apna|ek|koi|teri|tumhari|apne)?\s*(?:photo|foto|pic|pik|selfie|"
                    r"photos|pics|video)\s+(?:bhejo|bhej|bhejna|bhejdo|bhej\s+do|send\s+karo|send\s+"
                    r"kar\s+do|dikhao|dikha|dikhana|de\s+do|do\s+na)\b",
                    r"\b(?:camera|cam|video)\s+(?:on|chalu|open)\s+(?:karo|kar\s+do|kro|karna)\b",
                    r"\b(?:apna|apni)\s+(?:chehra|face|shakal|body)\s+(?:dikhao|dikha)\b|"
                    r"\b(?:tumhe|tumko|tujhe|aapko)\s+(?:dekhna|dekhne)\b",
                )
            ),
            "photo foto pic pik selfie photos pics video camera cam apna apni tumhe tumko tujhe "
            "aapko",
            lang="hi",
        ),
    ),
    (
        Signal.SEXUAL,
        _rule(
            r"\b(?:nangi|nanga|kapde\s+(?:utaro|utaar|utar|nikalo)|bina\s+kapde|virgin\s+ho|"
            r"kya\s+pehna\s+(?:hai|h|he)|kya\s+pehni\s+(?:ho|hai)|sexy|chut|lund|boobs|"
            r"chudai|garam\s+ho|kiss\s+kiya)\b",
            "nangi nanga kapde bina virgin kya sexy chut lund boobs chudai garam kiss",
            lang="hi",
        ),
    ),
    (
        Signal.GIFTS,
        _rule(
            "|".join(
                (
                    r"\b(?:main|mai|me|mein)?\s*(?:tumhe|tumko|tujhe|aapko|tere\s+liye|tumhare\s+"
                    r"liye)\s+(?:free\s+)?(?:recharge|paise|paisa|gift|uc|diamonds?|robux|phone|"
                    r"mobile|kuch)\s+(?:dunga|dilaunga|dila\s+dunga|karwa\s+dunga|kara\s+dunga|"
                    r"bhejunga|de\s+dunga|doonga|lunga|la\s+dunga)\b",
                    r"\b(?:recharge|uc|diamonds?|paise|gift)\s+(?:kara|karwa|dila|de|bhej)\s*"
                    r"(?:dunga|doonga|dungi)\b",
                    r"\bfree\s+(?:uc|diamonds?|robux|recharge)\b",
                    r"\b(?:uc|diamonds?|recharge|robux)\s+(?:chahiye|chaiye|chahie)\b",
                )
            ),
            "tumhe tumko tujhe aapko tere tumhare recharge uc diamond diamonds paise gift free "
            "robux",
            lang="hi",
        ),
    ),
    (
        Signal.MEETING,
        _rule(
            "|".join(
                (
                    rf"\b(?:{_HI_Y}\s+)?(?:kahan|kaha|kidhar)\s+(?:rehte|rehti|rahte|rahti|rhte|rhti)\b",
                    rf"\b{_HI_YR}\s+ghar\s+(?:kahan|kaha|kidhar)\b",
                    r"\b(?:milte|milenge|mil\s+sakte|milna|milo|miloge|milogi|mil\s+lo)\s+"
                    r"(?:hain|hai|h|he|chahiye|kabhi|kal|aaj|na|kya)?\b(?!\s+(?:game|match))",
                    r"\b(?:mujhse|mujh\s+se)\s+(?:milo|miloge|milogi|milne)\b",
                    r"\b(?:kaunse|konse|kis|kaun\s+se)\s+school\b",
                    r"\b(?:address|location|pata)\s+(?:do|bhejo|batao|bata\s+do|send\s+karo)\b",
                    r"\b(?:main|mai)\s+(?:aa\s+jaunga|aajaunga|aa\s+jata|lene\s+aa|pick\s+kar)|"
                    r"\b(?:tumhe|tumko|tujhe)\s+(?:lene|pick)",
                )
            ),
            "kahan kaha kidhar ghar milte milenge mil milna milo miloge milogi mujhse mujh kaunse "
            "konse kis kaun address location pata main mai tumhe tumko tujhe",
            lang="hi",
        ),
    ),
    (
        Signal.FLATTERY,
        _rule(
            rf"\b{_HI_Y}\s+(?:bahut|bohot|bhut|bht|kitni|kitne|itni|itne|sabse)\s+(?:cute|sundar|"
            rf"pyari|pyaari|pyare|smart|mature|khubsurat|hot|special)\s+{_HI_HO}\b|"
            rf"\b(?:umar|umr|age)\s+se\s+(?:zyada|jyada|jada|zada)\s+(?:samajhdar|mature|"
            rf"smart|badi|bade)",
            "tum tu aap ap tm umar umr age",
            lang="hi",
        ),
    ),
)

_ALL_RULES: Final = (*_SIGNAL_RULES, (Signal.FLATTERY, _FLATTERY_EN), *_I18N_SIGNAL_RULES)
_SIGNAL_OF: Final = {id(rule): signal for signal, rule in _ALL_RULES}
_INDEX: Final = _RuleIndex(rule for _, rule in _ALL_RULES)


def _signal_spans(
    text: str, *, contacts: bool, line: _Line | None = None
) -> list[tuple[Signal, int, int]]:
    """The signals a single line carries, each with its first matching span (original text
    indices). Off-platform counts when the line holds contact details or a move elsewhere."""
    line = line or _prepare(text)
    found: list[tuple[Signal, int, int]] = []
    seen: set[Signal] = set()
    for rule in _INDEX.admitted(line):
        signal = _SIGNAL_OF[id(rule)]
        if signal in seen:
            continue
        m = rule.pattern.search(line.text_for(rule))
        if m is not None:
            seen.add(signal)
            found.append((signal, *line.folded.span(*line.span_for(rule, m.start(), m.end()))))
    if contacts:
        spans = _detect(text, line)
        if spans:
            found.append((Signal.OFFPLATFORM, spans[0][0].start, spans[0][0].end))
    return found


def line_signals(text: str, *, contacts: bool = True) -> frozenset[Signal]:
    """The grooming signals that one line carries, on its own."""
    return frozenset(signal for signal, _, _ in _signal_spans(text, contacts=contacts))
