"""Grooming signals: which ones a line carries, and the rules that find them."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from parley.safety.text.contacts import _YOU, _detect
from parley.safety.text.fold import _Line, _prepare, _Rule, _rule


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


def _signal_spans(
    text: str, *, contacts: bool, line: _Line | None = None
) -> list[tuple[Signal, int, int]]:
    """The signals a single line carries, each with its first matching span (original text
    indices). Off-platform counts when the line holds contact details or a move elsewhere."""
    line = line or _prepare(text)
    found: list[tuple[Signal, int, int]] = []
    seen: set[Signal] = set()
    for signal, rule in _SIGNAL_RULES:
        if signal in seen or not line.admits(rule):
            continue
        m = rule.pattern.search(line.keywords)
        if m is not None:
            seen.add(signal)
            found.append((signal, *line.folded.span(m.start(), m.end())))
    if contacts:
        spans = _detect(text, line)
        if spans:
            found.append((Signal.OFFPLATFORM, spans[0][0].start, spans[0][0].end))
    return found


def line_signals(text: str, *, contacts: bool = True) -> frozenset[Signal]:
    """The grooming signals that one line carries, on its own."""
    return frozenset(signal for signal, _, _ in _signal_spans(text, contacts=contacts))
