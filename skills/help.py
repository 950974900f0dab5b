"""Help: what the speaker can do. Also the reply to speech no skill understood (the voice part
says REJECTED when an utterance is off-topic), so a customer learns what to ask."""

from __future__ import annotations

from skills.api import Reply, Skill, SkillContext, text

SENTENCES_EN = """
[Help]
[<hp_polite>] <hp_ask> [please]
hp_ask = (how do i use (this | it) [thing] | (tell me | show me) what you can do | can you help me | help [me] | (what | how) can you (do | help [me] with | help) | what (can | could | should) i (ask | say) [you | to you] | what (are you | is this) [thing] [for] | what do you do | how does (this | it) work | (what | which) (questions | things) can i ask [you] | what are (you able to do | your options) | (i don't know | i'm not sure) what to (say | ask))
hp_polite = (hello | hi | excuse me | hey | so | okay)
"""

SENTENCES_DE = """
[Help]
[<de_hp_hallo>] <de_hp_frage> [bitte]
de_hp_frage = (hilf mir | (sag | sagen sie) mir was (du | sie) [alles] (kannst | können) | was macht das [ding] [hier] | gib mir [ein paar] beispiele | ich weiß nicht was ich fragen soll | hilfe | was (kannst du | können sie) [alles] [tun | machen] | was kann ich (dich | sie) fragen | wie funktioniert (das | das hier) | wobei (kannst du | können sie) [mir] helfen)
de_hp_hallo = (hallo | entschuldigung | bitte)
"""

HELP = {
    "en": "You can ask me where a product is, when we are open, about today's offers, your loyalty points, "
    "or to call a colleague. Say forget me to erase your data.",
    "de": "Fragen Sie mich, wo ein Produkt ist, wann wir geöffnet haben, nach den Angeboten von heute, nach Ihren "
    "Treuepunkten, oder ob ich einen Kollegen rufen soll. Sagen Sie vergiss mich, um Ihre Daten zu löschen.",
}


async def help_(ctx: SkillContext) -> Reply:
    return Reply(text(ctx, HELP))


# Key words (gateway/voice/nlu/keywords.py) for wordings no sentence has; "can someone help me"
# is CallStaff's (its rule has two groups, this one).
KEYWORDS = {
    "en": {"Help": [
        # the speaker named as a thing, or how to talk to it: "what's this speaker for", "how do i talk to you"
        "speaker|device|thing|machine|assistant + what|what's|how|why ! thanks|thank|not|carry|mum|mom|dad|staff|someone|somebody|person",
        "help|options|commands|instructions|examples|features|functions|explain|what can you do|how does this work|how this works|how do i use|what do you do|what to say|what can i say|supposed to|meant to|what is this for|what's this for|kind of questions|what questions|how to use this|how to use you|how to use it|what do i say|how do i talk|able to do|what sort of things|what kind of things ! thanks|thank|not|carry|mum|mom|dad"]},
    "de": {"Help": [
        # the speaker named as a thing, or how to talk to it: "wozu ist der Lautsprecher", "wie rede ich mit dir"
        "lautsprecher|gerät|ding|sprachassistent*|assistent* + was|wie|wozu|wofür|womit|welche ! danke|nicht|mama|papa|tragen",
        "red|rede|redet|reden|spreche|sprechen|frag|fragen|beantwort*|machst|dienen + dir|dich|du|ding|gerät|lautsprecher + was|wie|womit|welche|wozu ! danke|nicht|mama|papa|tragen|punkt*|daten|angebot*|öffn*|offen|{product}",
        "hilfe|hilf|helfen|hilfst|beispiel*|funktion*|möglichkeit*|befehl*|anleitung|bedienungsanleitung|wie das geht|was kann man|drauf hast|erklär*|benutz*|wofür|wozu|verstehst|was kannst du|was können sie|wie funktioniert|wie geht das|was soll ich sagen|was kann ich sagen|wofür ist ! danke|nicht|mama|papa|tragen"]},
}

SKILL = Skill(name="help", sentences={"en": SENTENCES_EN, "de": SENTENCES_DE}, keywords=KEYWORDS, handlers={"Help": help_})
