"""Store information: opening hours (today or a named day), and where a product is (its aisle)."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Sentences cover how customers ask: questions, requests, polite forms and fragments, with the
# common synonyms of each key word. Written against the tuning set (tests/data/voice_tuning/),
# never against the held-out corpus (docs/voice.md, "Evaluation").
# One or two templates per intent, their variety in rules: PocketSphinx copies a rule's graph
# for every reference to it, so fifteen templates that each name {product} made a grammar that
# took seconds to search; one reference keeps it small.
SENTENCES_EN = """
[GetOpeningHours]
[<polite>] <oh_ask> [<oh_day>] [please]
[(your | the)] (opening | business | closing) (hours | times | time) [<oh_day>] [please]
[<polite>] do i [still] have time to (shop | buy something) [before you close]
oh_ask = (what are [your | the] [<shop>] (opening | business | trading) (hours | times) | what are your hours | when (are you [guys] | is the <shop>) open | (are you [guys] | is the <shop>) [still | already] open | (what time | when) (do you | does the <shop>) (open | close | shut) | what time do you (guys | folks) (open | close) | when is closing time | (what | when) is (opening | closing) time | how (long | late) are you open | (till | until) (when | what time) are you open | what time is closing [time])
oh_day = ([today | tomorrow | this] [in the] (morning | afternoon | evening) | today | tonight | now | tomorrow | this weekend | (at | on) (the weekend | weekends | weekdays) | [on] {weekday:day} [morning | afternoon | evening])
shop = (shop | store | supermarket | market)
polite = (please | excuse me | hello | hi | sorry | (can | could) you tell me | do you know | i'd like to know | i want to know | tell me)

[WhereIsProduct]
[<polite>] <wp_ask> [<article>] {product} [<wp_tail>]
[<polite>] [<article>] {product} [please] [<wp_after>]
[<polite>] [(can | could) you tell me | do you know | tell me] where [<article>] {product} (is | are) [please]
wp_ask = ((i'm | i am) (after | trying to find | searching for | hunting for) | i (can't | cannot) find | (can | could) you help me find | help me find | where do you (keep | have | sell) | where (is | are | can i find | do i find | would i find | can i get | do you keep | do you have | i can find) | where's | (in which | what | which) aisle [is | are | for | has] | (i'm | i am) looking for | looking for | i (need | want | would like | want to buy | need to buy | am looking for) | (do | can) you (have | sell | stock | carry) | (have you got | got) | is there)
wp_tail = (in | please | is | are | kept | located)
wp_after = ((which | what) aisle [is it | are they | please] | where (is it | are they | can i find (it | them)) | where)
article = (a | an | the | some | any | your)
"""

SENTENCES_DE = """
[GetOpeningHours]
[<de_polite>] <de_oh_frage> [<de_tag>] [früher | länger] [bitte]
[<de_polite>] <de_oh_offen> [<de_tag>] (offen | geöffnet | auf) [bitte]
[<de_polite>] (wann ist | ist) [<de_tag>] ladenschluss
[<de_polite>] bis wie viel uhr (kann ich | können wir) [<de_tag>] einkaufen
[ihre | die] öffnungszeiten [<de_tag>] [bitte]
de_oh_offen = (wann (habt ihr | haben sie | hat der laden | hat das geschäft | ist der laden | ist das geschäft) | (habt ihr | haben sie | hat der laden | ist der laden) | (bis wann | wie lange) (habt ihr | haben sie | hat der laden | ist der laden))
de_oh_frage = ((was | wie) (sind | lauten) [die | ihre | eure] öffnungszeiten | (schließen sie | schließt ihr | macht ihr) [<de_tag>] (früher | zu) | wann (schließt [der laden | das geschäft] | schließen sie | macht ihr zu | machen sie zu | öffnet | öffnen sie) | um wie viel uhr (schließen sie | macht ihr zu | machen sie zu | öffnen sie))
de_tag = (heute | morgen | jetzt | noch | heute abend | am wochenende | [am] {weekday:day})
de_polite = (bitte | entschuldigung | hallo | können sie mir sagen | sagen sie mir | wissen sie)

[WhereIsProduct]
[<de_polite>] <de_wp_frage> [<de_artikel>] {product} [finden | bitte]
{product} [bitte]
de_wp_frage = (wo (ist | sind | finde ich | gibt es | gibt's | bekomme ich | haben sie | kann ich) | (gibt es | gibt's) [hier] [irgendwo] | in welchem gang (ist | sind | finde ich | gibt es) | welcher gang [für] | ich (suche | brauche | möchte) | (haben sie | habt ihr | gibt es [bei ihnen | hier]))
de_artikel = (der | die | das | den | dem | ein | eine | einen | etwas | auch)
"""

# Weekday names as customers say them; the value is the key of store.yaml's opening_hours.
DAYS = {
    "weekday": {
        "en": [f"{day}:{day}" for day in WEEKDAYS] + [f"{day}s:{day}" for day in WEEKDAYS],
        "de": [f"{de}:{en}" for de, en in zip(
            ("montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"), WEEKDAYS, strict=True)]
        + ["sonnabend:saturday"]
        + [f"{de}s:{en}" for de, en in zip(("montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"), WEEKDAYS, strict=True)],
    }
}

# Every reply starts with fixed words, never with a slot: their audio is made ahead (docs/tts.md,
# "Replies made ahead"), so the first sound plays at once on a slow CPU.
HOURS = {"en": "We are open {day} from {hours}.", "de": "Wir haben {day} von {hours} geöffnet."}
CLOSED = {"en": "We are closed {day}.", "de": "Wir haben {day} geschlossen."}
TODAY = {"en": "today", "de": "heute"}
ON_DAY = {"en": "on {day}", "de": "am {day}"}
DAY_NAMES = {"de": dict(zip(WEEKDAYS, ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"), strict=True))}
TO = {"en": " to ", "de": " bis "}
AISLE = {"en": "You will find {name} in aisle {aisle}.", "de": "Sie finden {name} in Gang {aisle}."}
UNKNOWN = {
    "en": "Sorry, I don't know where that is. A colleague can help you.",
    "de": "Das weiß ich leider nicht. Ein Kollege hilft Ihnen gern.",
}


async def opening_hours(ctx: SkillContext) -> Reply:
    asked = str(ctx.intent.slots.get("day", ""))
    day = asked if asked in WEEKDAYS else WEEKDAYS[ctx.now.weekday()]
    if asked in WEEKDAYS:
        name = DAY_NAMES.get(ctx.lang, {}).get(day, day.capitalize())
        said_day = text(ctx, ON_DAY, day=name)
    else:
        said_day = text(ctx, TODAY)
    hours = ctx.shop.store.opening_hours.get(day, "closed")
    if hours == "closed":
        return Reply(text(ctx, CLOSED, day=said_day))
    to = TO.get(ctx.lang, TO["en"])
    return Reply(text(ctx, HOURS, day=said_day, hours=hours.replace("–", to).replace("-", to)))


async def where_is(ctx: SkillContext) -> Reply:
    product = ctx.shop.catalogue.product(str(ctx.intent.slots.get("product", "")))
    if product is None:
        return Reply(text(ctx, UNKNOWN))
    names = product.names.get(ctx.lang) or product.names["en"]
    name = names[0].split(":")[0]
    return Reply(text(ctx, AISLE, name=name.capitalize() if ctx.lang == "de" else name, aisle=product.aisle))


# Key words (gateway/voice/nlu/keywords.py): the fallback for wordings no sentence has. A rule's
# groups must all be heard; the rule with more groups wins. Every other word must be one the
# shop uses, so "is the pharmacy open" or "wann schließt der Aldi" is no request of ours.
_OPEN_EN = "open|opens|opening|close|closes|closing|closed|shut|shuts|hours|trading|timings"
_FIND_EN = "where*|find|aisle*|shelf|shelves|fridge*|freezer*|section|located|locate|look*|search*|stock*|sell*|carry|keep|have|got|need|want|buy|get"
_OPEN_DE = "öffn*|geöffnet|offen|schließ*|geschlossen|ladenschluss"
# When, in German: question words, times of day and of year, holidays.
_WHEN_DE = "wann|lange|lang|länger|früher|uhr|bis|ab|morgen|früh|abend|abends|morgens|wochenende|feiertag*|heiligabend|silvester|weihnacht*|ostern|pfingst*|rund um die uhr|mittag*|zwischen den jahren|neujahr|erster mai"
_FIND_DE = "wo|versteckt|find*|such*|gang|regal*|haben|habt|gibt|brauch*|bräucht*|kaufen|bekomm*|krieg*|führ*|verkauf*|steh*|lieg*"
# A product named in a question about its price, its state or somewhere else is no question
# where it is.
# An offer on a product is the offers' question.
_PRICE_EN = "much|cost|costs|price|prices|priced|expensive|gone|off|bad|home|return|refund|nearest|remember|forget|forgot|don't|offer*|deal*|sale|discount*|cheap*|reduced|enough|we|our"
_PRICE_DE_NOT_NICHT = "kostet|kosten|preis*|teuer|bewahr*|haltbar*|schlecht|hause|zurück*|umtauschen|nächste|vergiss|vergessen|angebot*|aktion*|gutschein*|rabatt*|reduziert*|billig*|günstig*|genug|wir|unsere"
_PRICE_DE = f"{_PRICE_DE_NOT_NICHT}|nicht"
KEYWORDS = {
    "en": {
        "GetOpeningHours": [_OPEN_EN, f"{_OPEN_EN} + {{weekday:day}}", f"{_OPEN_EN} + when|time|late|till|until|long|early|earliest|latest|tonight|tomorrow|weekend|weekdays|doors|stay|christmas|easter|eve|holiday|holidays|boxing day|new year*|hours",
                            # other words for closing: "lock up", "stop serving"
                            "lock|locking|serving + when|time|tonight|late|until|till|evening"],
        "WhereIsProduct": [f"{{product}} ! {_PRICE_EN}", f"{{product}} + {_FIND_EN} ! {_PRICE_EN}"],
    },
    "de": {
        "GetOpeningHours": [_OPEN_DE, f"{_OPEN_DE} + {{weekday:day}}", f"{_OPEN_DE}|zumach*|aufmach*|aufsperr*|zusperr*|feierabend|schluss + {_WHEN_DE}",
                            # "ab wann kann man morgen einkaufen" (not "wann gehen wir einkaufen")
                            "einkaufen|einkauf + ab wann|bis wann|wie lange|wie spät",
                            # "auf"/"zu" are everywhere: opening hours only beside a question of time
                            f"auf|zu + {_WHEN_DE}|{{weekday:day}} ! {{product}}|bewahr*",
                            # the separable verb's two halves: "macht ihr … auf", "sperrt ihr … zu"
                            f"macht|machen|machst|sperrt|sperren|sperrst|hat|habt|haben|hast + auf|zu + {_WHEN_DE}|{{weekday:day}}|heute|morgen|jetzt|noch"],
        "WhereIsProduct": [f"{{product}} ! {_PRICE_DE}", f"{{product}} + {_FIND_DE} ! {_PRICE_DE}",
                           # "ich find die Semmeln nicht": not finding it is asking where it is
                           f"{{product}} + find*|such* + nicht ! {_PRICE_DE_NOT_NICHT}"],
    },
}

SKILL = Skill(
    name="store_info",
    sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, keywords=KEYWORDS,
    handlers={"GetOpeningHours": opening_hours, "WhereIsProduct": where_is},
    lists=DAYS,
)
