"""Call a staff member: a notification to the staff pagers, and a word to the customer."""

from __future__ import annotations

from skills.api import Notify, Reply, Skill, SkillContext, text

SENTENCES_EN = """
[CallStaff]
[<st_polite>] <st_ask> [please]
<st_person> please
st_ask = ([(can | could) you] (call | get | fetch | send | find) [me] [<st_article>] <st_person> | i (need | want | would like | need to speak to | want to speak to | want to talk to | need to talk to) [<st_article>] <st_person> | (can | could | may) i (speak | talk) (to | with) [<st_article>] <st_person> | i need [some] help from [<st_article>] <st_person> | i need [some] (help | assistance) | (can | could) (someone | somebody | anyone | anybody | a colleague | a staff member | an assistant) (help me | come here | come over | assist me) | is there (someone | somebody | anyone | anybody | a staff member | an assistant | a colleague) (around | here | who can help me | from the staff around | working here) | (i'd | i would) like to (speak | talk) to [<st_article>] <st_person> | (where is | where's | where can i find) [<st_article>] <st_person>)
st_person = (worker | shop worker | staff | staff member | member of the team | member of staff | shop assistant | sales assistant | assistant | employee | colleague | manager | human | real person | person | someone | somebody | cashier | (someone | somebody | person) who works here)
st_article = (a | an | the | some | your)
st_polite = (please | excuse me | hello | hi | sorry)
# How customers ask beyond the verbs above (issue 15, English coverage): someone coming (over)
# or giving a hand, someone sent or fetched (over), "get me" a person, whether anyone works here,
# wanting a person or help here; the person as "someone who works here" or a member of staff.
[<st_polite>] <st_more> [please]
st_more = ((can | could | would | will) <st_someone> (come [over] [here | <st_where>] | come and help [me] | help me [out] | give me a hand) | (can | could | would) you [please] (send | get | call | fetch) <st_someone> [over | over here | here | for me | <st_where>] | (send | get | call | fetch) <st_someone> (over | here | over here | <st_where>) | (get | send | fetch | find) me <st_someone> | is there (anyone | anybody | someone | somebody) (who works here | i can talk to | i can ask) | (is | are) (anyone | anybody | someone | somebody | there staff) (working | here | around | about | available) [here] | (anyone | anybody | someone) (working here | around | here) | (i need | i want | i'd like | i would like) <st_someone> [to help me] | i need (help | assistance) (here | over here | <st_where>) | (help | assistance) needed [here | <st_where>] | (can | could | may) i (get | have) [some] (help | assistance) [here | over here] | (someone | somebody) to help me)
st_where = ((to | at) the (till | checkout | front | counter | entrance) | (to | in) aisle (one | two | three | four | five | six | seven | eight | nine | ten | eleven | twelve) | from the back)
st_someone = (someone | somebody | anyone | anybody | <st_article> <st_person> | (someone | somebody | a person) who works here | (someone | somebody) from the staff)
"""

SENTENCES_DE = """
[CallStaff]
[<de_st_bitte>] <de_st_frage> [bitte]
de_st_frage = ((rufen sie | ruf | holen sie | hol) [mir] [bitte] [einen | eine] <de_st_person> | ich (brauche | möchte | hätte gern | will) [einen | eine] <de_st_person> [sprechen] | ich brauche [bitte] hilfe [von (einem | einer) <de_st_person> | vom personal] | (kann | könnte) mir (jemand | bitte jemand | ein mitarbeiter) helfen | (ist hier | gibt es hier) (jemand | einen mitarbeiter | eine mitarbeiterin) [der mir helfen kann | die mir helfen kann] | (kann | könnte) ich mit [einem | einer] <de_st_person> sprechen)
de_st_person = (echten person | echte person | person | mitarbeiter | mitarbeiterin | verkäufer | verkäuferin | personal | kollegen | kollegin | filialleiter | menschen)
de_st_bitte = (bitte | hallo | entschuldigung | entschuldigen sie)
# German word order and case: the verb at the end ("kann jemand kommen", "einen Mitarbeiter
# rufen"), the person in nominative, accusative or dative as the verb wants it, and where to come.
[<de_st_bitte>] <de_st_auftrag> [<de_st_wohin>] [bitte]
[bitte] <de_st_gerufen> [bitte] [<de_st_wohin>]
de_st_auftrag = ((kann | könnte | kannst du | können sie | könnten sie) [mir] [mal | bitte] [mal | bitte] (<de_st_akk> [<de_st_wohin>] (rufen | holen | herholen | schicken | herschicken | vorbeischicken | ausrufen) | <de_st_nom> [<de_st_wohin>] (kommen | herkommen | vorbeikommen | helfen | kommen und helfen)) | kommt (mal | bitte) [mal] <de_st_nom> | <de_st_nom> soll [bitte] [mal] [<de_st_wohin>] (kommen | herkommen | vorbeikommen) | (ruf | rufen sie | hol | holen sie | schick | schicken sie) [mir] [doch] [mal | bitte] [mal | bitte] <de_st_akk> | ich (möchte | will | würde gern | würde gerne | hätte gern | hätte gerne | muss) [bitte] [mal] (mit <de_st_dat> (sprechen | reden) | <de_st_akk> sprechen) | ich (brauche | brauch | bräuchte) [mal | bitte] [hier | jetzt] (<de_st_akk> | hilfe | unterstützung) [hier] [(von | vom) <de_st_dat> | vom personal] | hilfe (von <de_st_dat> | vom personal) | (ist | gibt es | gibt's) hier (jemand | irgendwer | irgendjemand | jemanden) [vom personal] [der mir helfen kann | die mir helfen kann] | (kann | könnte) [mir] (<de_st_nom> | jemand vom personal) [mal | bitte] helfen)
de_st_gerufen = ((mitarbeiter | mitarbeiterin | verkäufer | verkäuferin | personal | bedienung | filialleiter) bitte | (<de_st_akk> | mitarbeiter) [bitte] (rufen | holen))
de_st_nom = (jemand | irgendwer | irgendjemand | wer | jemand vom personal | ein mitarbeiter | eine mitarbeiterin | ein verkäufer | eine verkäuferin | ein kollege | eine kollegin | ein angestellter | eine angestellte | der filialleiter | die filialleiterin | ein mensch | ein echter mensch | eine echte person)
de_st_akk = (jemanden | jemand | wen | jemanden vom personal | einen mitarbeiter | eine mitarbeiterin | einen verkäufer | eine verkäuferin | einen kollegen | eine kollegin | einen angestellten | eine angestellte | den filialleiter | die filialleiterin | den chef | die chefin | die bedienung | einen menschen | einen echten menschen | eine echte person | eine person)
de_st_dat = (jemandem | jemandem vom personal | einem mitarbeiter | einer mitarbeiterin | einem verkäufer | einer verkäuferin | einem kollegen | einer kollegin | einem angestellten | dem filialleiter | der filialleiterin | dem chef | der chefin | einem menschen | einem echten menschen | einer echten person | einer person)
de_st_wohin = (her | hierher | zu mir | vorbei | zur kasse | an die kasse | zur theke | [zu | in] gang (eins | zwei | drei | vier | fünf | sechs | sieben | acht | neun | zehn | elf | zwölf | dreizehn | vierzehn))
"""

COMING = {"en": "A colleague is on the way.", "de": "Ein Kollege ist unterwegs."}


async def call_staff(ctx: SkillContext) -> Reply:
    # No customer id and no transcript in the notification: staff need the place, not the person.
    payload = {"kind": "staff_call", "siteId": ctx.session.site_id, "reason": "customer asked at speaker", "at": ctx.now.timestamp()}
    return Reply(text(ctx, COMING), notify=(Notify("staff", payload),))


# Key words (gateway/voice/nlu/keywords.py) for wordings no sentence has: a person of the shop
# *and* a request for them; "call a taxi", "call my wife" are neither. Effectful: from key words
# it is only ever asked back (their confidence stays below the effect guard's threshold).
_PERSON_EN = "fella|bloke|staff|colleague*|assistant*|employee*|worker*|manager*|someone|somebody|anyone|anybody|human|person|cashier*|attendant*|team member|member of staff"
_ASK_EN = "call|get|fetch|send|need|want|speak|talk|help*|assist*|come|page|bring|ask|have a word"
_PERSON_DE = "mitarbeiter*|verkäufer*|personal|kolleg*|jemand*|mensch*|person|filialleiter*|chef*|bedienung|angestellt*"
_ASK_DE = "ruf*|hol*|brauch*|sprechen|gesprochen|reden|helfen|hilfe|kommen|herkommen|vorbeikommen|möchte|will|schicken|herschicken|vorbeischicken"
KEYWORDS = {
    "en": {"CallStaff": [f"{_PERSON_EN} + {_ASK_EN} ! taxi|cab|uber|police|ambulance|doctor|wife|husband|mum|mom|dad|friend|home"]},
    "de": {"CallStaff": [f"{_PERSON_DE} + {_ASK_DE} ! taxi|polizei|arzt|krankenwagen|frau|mann|mama|papa|freund|freundin"]},
}

SKILL = Skill(
    name="staff", sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, keywords=KEYWORDS, handlers={"CallStaff": call_staff},
    effectful=frozenset({"CallStaff"}),
)
