"""Store information: opening hours, and where a product is (its aisle)."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

SENTENCES_EN = """
[GetOpeningHours]
what are [your | the] opening hours [today]
when (are you | is the (shop | store)) open [today]
how long are you open [today]
when do you close [today]

[WhereIsProduct]
where (is | are) [the | some] {product}
where can i find [the | some] {product}
(in which | what) aisle (is | are) [the] {product}
"""

SENTENCES_DE = """
[GetOpeningHours]
wann (habt ihr | haben sie | hat der laden) [heute] (offen | geöffnet)
wie sind [die | ihre] öffnungszeiten

[WhereIsProduct]
wo (ist | sind | finde ich) [der | die | das] {product}
in welchem gang (ist | sind) [der | die | das] {product}
"""

HOURS = {"en": "Today, {day}, we are open {hours}.", "de": "Heute haben wir {hours} geöffnet."}
CLOSED = {"en": "We are closed today.", "de": "Heute haben wir geschlossen."}
AISLE = {"en": "You will find {name} in aisle {aisle}.", "de": "{name} finden Sie in Gang {aisle}."}
UNKNOWN = {"en": "Sorry, I don't know where that is. A colleague can help you.", "de": "Das weiß ich leider nicht."}


async def opening_hours(ctx: SkillContext) -> Reply:
    day = WEEKDAYS[ctx.now.weekday()]
    hours = ctx.shop.store.opening_hours.get(day, "closed")
    if hours == "closed":
        return Reply(text(ctx, CLOSED))
    return Reply(text(ctx, HOURS, day=day.capitalize(), hours=hours.replace("–", " to ").replace("-", " to ")))


async def where_is(ctx: SkillContext) -> Reply:
    product = ctx.shop.catalogue.product(str(ctx.intent.slots.get("product", "")))
    if product is None:
        return Reply(text(ctx, UNKNOWN))
    names = product.names.get(ctx.lang) or product.names["en"]
    name = names[0].split(":")[0]
    return Reply(text(ctx, AISLE, name=name, aisle=product.aisle))


SKILL = Skill(
    name="store_info",
    sentences={"en": SENTENCES_EN, "de": SENTENCES_DE},
    handlers={"GetOpeningHours": opening_hours, "WhereIsProduct": where_is},
)
