"""Privacy: "forget me" (erasure, through the consent part) and "what do you know about me".

"Forget me" is irreversible, and a misheard word must never erase anyone: the handler first asks
("This erases everything we keep about you, including your 1,250 points. Say 'yes, delete' to
confirm") and erases only when the voice part runs it again confirmed, after a clear "yes,
delete" from the same customer in the same session (gateway/voice/confirm.py).

ForgetMe is also effectful: heard without enough confidence, the voice part asks back first (nlu/guard.py);
the confirmation question comes after that, so a misheard request is asked about twice."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

SENTENCES_EN = """
[ForgetMe]
[<pv_polite>] <pv_forget> [please]
pv_forget = (get rid of <pv_mydata> | [i withdraw my consent] (delete | erase | remove | wipe) <pv_mydata> | (i'd like | i want) my data (wiped | deleted | erased | removed | gone) | i don't want you to (keep | store) my data [delete it] | forget (me | about me | my data | everything about me | all about me | who i am) | [(can | could | would) you] (delete | erase | remove | wipe | clear) <pv_mydata> | i (want | would like) (you to | to) (delete | erase | remove | wipe | clear) <pv_mydata> | i (want | would like) to be forgotten | (can | could | would) you forget (me | about me) | (i want | i'd like) my data (deleted | erased | removed) | don't (keep | store) my data [anymore])
pv_mydata = ((all | any) (records | data | information) (about | on) me | my data | my personal data | my information | my personal information | my details | my profile | my account | my record | my records | all my data | everything (you know | you have | you keep | you store) about me | me from your (system | records | database))
pv_polite = (please | excuse me | hello | hi)
# Erasure as customers ask for it beyond the forms above (issue 15, English coverage): what of
# theirs is to go (data, details, account, profile, "everything you have on me"), wanting it gone,
# not wanting it kept, wanting to be forgotten. Always a verb of erasing or keeping *and* the
# customer's data: "delete the photos", "forget it", "I forgot my keys" are none of these.
[<pv_polite>] <pv_erase> [please]
pv_erase = ([(can | could | would) you] [please] (delete | erase | remove | wipe | clear) <pv_mine> [from (your | the) [shop] (system | records | database)] | ((delete | erase | remove | wipe) me from | take me off) (your | the) [shop] (system | records | database | files | list) | i (want | would like | need) you to (delete | erase | remove | wipe | clear) <pv_mine> | (i want | i'd like | i would like) <pv_mine> (deleted | erased | removed | wiped | gone) | i (don't | do not) want you to (keep | store | have | hold) <pv_mine> [anymore] | i (don't | do not) want you (keeping | storing | holding) <pv_mine> [anymore] | (i want | i'd like | i would like) (to be forgotten | you to forget (me | who i am | everything about me | about me)) | forget (everything | all) you (know | have) (about | on) me | (i want | i'd like | i would like | i need) to (delete | erase | remove) <pv_mine> | [(can | could) you] [please] close my [loyalty | customer] account [and delete (everything | my data)] | (i want | i'd like | i would like | i need) to close my [loyalty | customer] account | i (withdraw | revoke | take back | cancel) my consent)
pv_mine = ((my | all my | all of my) [personal | customer | loyalty] (data | details | information | account | profile | records) | everything (you have | you know | you keep | you store | you hold) (on | about) me | (all | any) (data | information | records | details) you (have | hold | keep) (on | about) me | all records of me)

[ConfirmErase]
yes [please] (delete | erase) [it | everything | my data]
yes [please] delete [it | everything | my data]

[WhatDoYouKnow]
[<pv_polite>] <pv_know> [please]
pv_know = (what (have you | do you) (recorded | remember | collected | stored | saved | know | have) (about | on) me | do you (store | keep | have) anything (about | on) me | what do you know about me | what (data | information | personal data | details) (do you have | do you store | do you keep | do you hold | have you got | have you stored | are you keeping) (about | on) me | what (do you have | have you got | have you stored | do you store | do you keep) (about | on) me | (show | tell) me (my data | what you know about me | what you have on me | what you store about me | my information) | (what's | what is) stored about me | (can | could) i see my data | (do you | are you) (keep | store | keeping | storing) (data | information | my data) [about me])
"""

SENTENCES_DE = """
[ForgetMe]
[<de_pv_bitte>] <de_pv_vergiss> [bitte]
de_pv_vergiss = ((meine | die) (kundendaten | daten) [bitte] (löschen | entfernen) | (entfernen | löschen) sie mich [bitte] aus ihrem system | vergiss mich | vergessen sie mich | (löschen sie | lösch | entfernen sie) [bitte] <de_pv_daten> | ich (möchte | will) (dass sie <de_pv_daten> löschen | vergessen werden | <de_pv_daten> löschen lassen) | (können | könnten) sie <de_pv_daten> löschen)
de_pv_daten = (meine daten | meine persönlichen daten | alle meine daten | mein profil | alles über mich)
de_pv_bitte = (bitte | hallo | entschuldigung)
# German verb-final and passive forms, the informal imperative, and what the data is called.
[<de_pv_bitte>] <de_pv_loeschen> [bitte]
de_pv_loeschen = ((lösch | lösche | löscht | entfern | entferne | entfernt | streichen sie | streich | nehmen sie | nimm) [mal | bitte] [mal | bitte] (<de_pv_daten> | <de_pv_meine>) [komplett | vollständig | endgültig] | (entfernen sie | löschen sie | streichen sie | nehmen sie | nimm | entfern | lösch) [mal | bitte] mich [bitte] aus (ihrem | ihrer | eurem | eurer | deinem | deiner | dem | der) (system | datenbank | speicher | kartei | kundendatei) [raus] | (<de_pv_daten> | <de_pv_meine>) [bitte] [komplett | vollständig | endgültig] (löschen | entfernen) [bitte] | (<de_pv_daten> | <de_pv_meine>) (soll | sollen) [bitte] [komplett | vollständig | endgültig] gelöscht werden | ich (möchte | will | hätte gern | hätte gerne) [bitte] dass (<de_pv_daten> | <de_pv_meine>) [komplett | vollständig | endgültig] gelöscht (werden | wird) | ich (möchte | will) [bitte] dass (sie | du | ihr) (mich vergessen | mich vergisst | mich vergesst | <de_pv_daten> löschen | <de_pv_meine> löschen) | (können | könnten | würden) sie [bitte] (<de_pv_daten> | <de_pv_meine>) [bitte] [komplett | vollständig | endgültig] löschen | ich (möchte | will) (mein | mein ganzes) (konto | kundenkonto) (kündigen | schließen | auflösen) | (kündigen | schließen | löschen) sie [bitte] (mein | mein ganzes) (konto | kundenkonto) | ich (möchte | will) (<de_pv_daten> | <de_pv_meine>) [komplett | vollständig | endgültig] löschen [lassen] | (vergiss | vergesst | vergessen sie) [bitte] alles (was du über mich weißt | was sie über mich wissen | was ihr über mich wisst | über mich))
de_pv_meine = ((meine | alle meine) (kundendaten | daten | persönlichen daten | infos | informationen | angaben | einkaufsdaten) | (mein | mein ganzes) (profil | kundenprofil | konto | kundenkonto) | meinen (account | datensatz | eintrag))

[ConfirmErase]
ja [bitte] (löschen | löschen sie [alles | meine daten])

[WhatDoYouKnow]
[<de_pv_bitte>] <de_pv_wissen> [bitte]
de_pv_wissen = (was (weißt du | wissen sie | wisst ihr) [eigentlich] über mich | welche [persönlichen] daten (haben sie | habt ihr) [von mir | über mich] | was (ist | steht) in meinem (profil | kundenprofil) | welche (daten | informationen) (haben sie | hast du | speichern sie) über mich | was (haben sie | speichern sie) über mich [gespeichert] | (zeigen sie mir | zeig mir) meine daten)
"""

TAP = {
    "en": "Please tap your loyalty card on the reader first, so I know who you are.",
    "de": "Bitte halten Sie zuerst Ihre Kundenkarte an das Lesegerät, damit ich weiß, wer Sie sind.",
}
FORGOTTEN = {
    "en": "Done. I have erased everything stored about you here ({rows} records).",
    "de": "Erledigt. Ich habe alles gelöscht, was hier über Sie gespeichert war ({rows} Einträge).",
}
KNOWN = {
    "en": "I keep {events} events about you{attributes}. Your consents: {consents}.",
    "de": "Ich habe {events} Ereignisse über Sie gespeichert{attributes}. Ihre Einwilligungen: {consents}.",
}
ATTRIBUTES = {"en": ", and a profile with {names}", "de": " und ein Profil mit {names}"}
NO_CONSENTS = {"en": "none", "de": "keine"}
UNAVAILABLE = {
    "en": "I cannot erase data from here. A colleague can do it for you at the till.",
    "de": "Von hier aus kann ich keine Daten löschen. Ein Kollege an der Kasse hilft Ihnen dabei.",
}
NOTHING = {"en": "I keep no data about you.", "de": "Ich habe keine Daten über Sie gespeichert."}
CONFIRM = {
    "en": "This erases everything we keep about you{points}. Say 'yes, delete' to confirm.",
    "de": "Damit lösche ich alles, was wir über Sie gespeichert haben{points}. Sagen Sie 'ja, löschen', um es zu bestätigen.",
}
POINTS = {"en": ", including your {points:,} points", "de": ", auch Ihre {points} Punkte"}
NOTHING_TO_CONFIRM = {"en": "There is nothing to confirm.", "de": "Es gibt nichts zu bestätigen."}
CONFIRM_INTENT = "ConfirmErase"


async def forget(ctx: SkillContext) -> Reply:
    if ctx.customer is None:
        return Reply(text(ctx, TAP))
    if not ctx.confirmed:
        summary = await ctx.privacy.describe(ctx.customer.id)
        points = text(ctx, POINTS, points=summary.loyalty_points) if summary.loyalty_points else ""
        return Reply(text(ctx, CONFIRM, points=points), confirm=CONFIRM_INTENT)
    rows = await ctx.privacy.forget(ctx.customer.id)
    if rows is None:
        return Reply(text(ctx, UNAVAILABLE))
    return Reply(text(ctx, FORGOTTEN, rows=rows))


async def what_do_you_know(ctx: SkillContext) -> Reply:
    if ctx.customer is None:
        return Reply(text(ctx, TAP))
    summary = await ctx.privacy.describe(ctx.customer.id)
    if not summary.events and not summary.profile_attributes and not summary.consents:
        return Reply(text(ctx, NOTHING))
    names = ", ".join(a.replace("_", " ") for a in summary.profile_attributes)
    attributes = text(ctx, ATTRIBUTES, names=names) if summary.profile_attributes else ""
    consents = ", ".join(f"{p} {s}" for p, s in sorted(summary.consents.items())) or text(ctx, NO_CONSENTS)
    return Reply(text(ctx, KNOWN, events=summary.events, attributes=attributes, consents=consents))


async def confirm_outside_question(ctx: SkillContext) -> Reply:
    """"Yes, delete" heard when no question waits for it (the voice part handles the awaited
    one itself): it confirms nothing."""
    return Reply(text(ctx, NOTHING_TO_CONFIRM))


# Key words (gateway/voice/nlu/keywords.py) for wordings no sentence has. Erasure needs a verb
# of erasing *and* the customer's data as its object: "forget it", "I forgot my bag", "lösch das
# Lied" are none. Effectful: from key words it is only ever asked back.
_ERASE_EN = "delet*|eras*|forget|remov*|wipe|wiped|clear|purge|destroy|scrub|get rid of"
_DATA_EN = "data|information|info|details|account|profile|records|record|history|me|myself|everything"
_SEEN_EN = "tracked|record*|listening|listen*|spy*|microphone|camera*|privacy|track*|shared|sharing|share|copy|file|safe|gdpr|stored|storing|store|saved|collect*|remember|consent|know who|data protection|privacy policy"
_ERASE_DE = "lösch*|gelösch*|vergiss|vergessen|entfern*|tilg*|vernicht*|weg|verschwind*"
_DATA_DE = "daten|kundendaten|personendaten|informationen|infos|profil|konto|kundenkonto|mich|alles"
_SEEN_DE = "hört|mithör*|lausch*|gespräch*|gespeichert*|aufbewahr*|bewahrt|bewahren|weitergeb*|gemerkt|merkst|aufgenommen|aufnahme*|aufzeichn*|abgehört|mikro*|kamera*|datenschutz*|gespeichert|speicher*|weitergegeben|kopie|sicher|dsgvo|erkennst|erkennen|nimmst|zuhör*|hörst|verfolg*|spion*|kennst|erinner*|sprachaufnahme*|einwilligung*|gesammelt|sammel*|auskunft|behalt*|aufgezeichnet|mitgeschnitten|woher|woran"
KEYWORDS = {
    "en": {
        "ForgetMe": [f"{_ERASE_EN} + {_DATA_EN}", "withdraw*|revoke|cancel|take back|no longer + consent|permission",
                     "be forgotten|opt out|unsubscribe|deletion|take me off", "close|cancel|terminate|end + account|membership", f"don't|stop|no longer + keep*|stor*|using|use|process* + {_DATA_EN}"],
        "WhatDoYouKnow": [f"data|information|info|details|profile|records|{_SEEN_EN} ! {_ERASE_EN}|withdraw*|revoke|opt|stop|don't|{{product}}",
                          f"data|information|info|details|profile|records|{_SEEN_EN}|keep|hold|holding|know + me|my|about ! {_ERASE_EN}|withdraw*|revoke|stop|don't|let|{{product}}",
                          # what of mine is kept: the voice, the conversation, the purchases
                          f"voice|conversation*|purchases|name + {_SEEN_EN}|keep|kept|happens ! {_ERASE_EN}|withdraw*|revoke|stop|don't"],
    },
    "de": {
        "ForgetMe": [f"{_ERASE_DE} + {_DATA_DE}", "widerruf*|widersprech*|widerspreche|zurückziehen|zurücknehmen|zurück|nicht mehr einverstanden + einwilligung|zustimmung|erlaubnis|speicherung|datenverarbeitung|daten",
                     "vergessen werden|vergessenwerden|abmelden|austragen|löschung|gelöscht", "kündig*|schließ*|auflös* + konto|kundenkonto|mitgliedschaft", f"nicht mehr|aufhören + speicher*|behalten|nutzen|verwenden + {_DATA_DE}", "nicht mehr + gespeichert|speichern"],
        "WhatDoYouKnow": [f"daten|informationen|infos|profil|{_SEEN_DE} ! {_ERASE_DE}|widerruf*|nicht mehr|{{product}}",
                          f"daten|informationen|infos|profil|{_SEEN_DE}|wisst|weißt|wissen + mich|mir|meine|meinen|über ! {_ERASE_DE}|widerruf*|nicht mehr|{{product}}",
                          # what of mine is kept: the voice, the purchases, the name
                          f"stimme|einkäufe|einkauf|namen|name|sprachaufnahme* + {_SEEN_DE}|gespeichert|passiert ! {_ERASE_DE}|widerruf*|nicht mehr"],
    },
}

SKILL = Skill(
    name="privacy",
    sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, keywords=KEYWORDS,
    handlers={"ForgetMe": forget, "WhatDoYouKnow": what_do_you_know, CONFIRM_INTENT: confirm_outside_question},
    effectful=frozenset({"ForgetMe"}),
    confirmed=frozenset({"ForgetMe"}),
)
