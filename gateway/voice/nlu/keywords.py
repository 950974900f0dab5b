"""The fallback for text no template parses: an intent from its key words, or nothing.

Templates say how a request is *worded*; customers word it in ways nobody wrote down ("I need
someone to open the cabinet", "any coupons this week?"). Skills therefore also declare, per
intent, the key words a request of that intent cannot do without (`Skill.keywords`), as rules:

    "staff|colleague*|assistant* + call|get|fetch|need|speak|talk|help ! taxi|cab"

Groups joined by ` + ` must *all* be heard; `|` separates a group's alternatives: a word, a
prefix (`colleague*`: colleague, colleagues), words said in a row (`staff member`) or a slot list
(`{product}`: any of its values). Words after ` ! ` veto the rule. A rule's score is its number
of groups: the more specific rule wins; a tie between two intents is ambiguous and rejected.

Rejection of what is not a request comes from the words *not* explained: every word must be a
word of the sentences, a key word, a value of a slot list, or one of the language's neutral
words (articles, pronouns, polite wrappers: `NEUTRAL`). Each other word costs `UNKNOWN_COST` of
`CEILING`'s confidence, so "wann schließt der Aldi" (a word the shop never uses) falls below
the guard's ordinary threshold (0.65), and "is the pharmacy open" does too. `CEILING` is below
the effect guard's threshold (0.9): an effectful intent the templates did not parse is at most
asked back, never acted on (`nlu/guard.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.voice.nlu.ast import Alternatives, Node, Optional, RuleRef, SlotValue, Template, Word
from gateway.voice.nlu import ast

CEILING = 0.8  # all words explained: enough to act on an ordinary intent, never on an effectful one
UNKNOWN_COST = 0.2  # per word nothing explains: one unknown word puts it below 0.65
TEMPLATE_NAME = "<keywords>"  # IntentMatch.template of a fallback match: where it came from

# Words that carry no request in any intent (function words, polite wrappers, hedges): heard,
# they are explained, but they never make an intent. Per language; a language without a list
# relies on its sentences' words alone.
NEUTRAL: Mapping[str, frozenset[str]] = {
    "en": frozenset(
        "a an the some any this that these those it its it's there here i i'm i'd i've me my mine you you're your we our "
        "us they them is are was be am do does did can could would will may might should shall have has got get "
        "please thanks thank sorry excuse hello hi hey okay ok oh well so just really actually quite maybe perhaps "
        "now today still also too and or but if then of in on at for to from with about by up out over "
        "what which who whom where when why how much many tell know wonder wondering mind kindly quick quickly "
        "need want like looking look see find anywhere somewhere anything something again yet already any more "
        "yes no not don't can't cannot doesn't isn't aren't won't going go coming come hear heard think let give take "
        "put right thing things stuff good best nice items products one two three four five six seven eight nine ten "
        "eleven twelve half enough worth yet left day days week weeks month year yesterday early earlier late later "
        "morning evening night tonight tomorrow around every all bag bags packet packets pack box tin tins can jar bottle "
        "bottles carton kind kinds sort brand".split()
        # auxiliaries and common verbs in their other forms ("being recorded", "what happens to")
        + "being been always never said say says gets getting happens happen happened given last next answer "
        "understand you've you'd".split()
        # how people talk to a shop: address terms, colloquial fillers and hedges, the numbers of a
        # time or a total ("half nine", "twenty four hours"); none of them asks for anything
        + "yeah yep love mate dear ta cheers guys lot folks reckon minute moment way place idea ever near "
        "under asking needful customer customers shopping d'you d'ya ya ye y'all gonna wanna gotta gimme lemme dunno twenty thirty forty fifty hundred thousand".split()
    ),
    "de": frozenset(
        "der die das den dem des ein eine einen einem einer es ich mich mir mein meine meinen meiner meinem du dich "
        "dir sie ihr ihnen ihre ihren wir uns unser man ist sind war bin bist hat habe hab haben habt hast gibt "
        "gibt's kann kannst können könnte könnten würde würden wollte möchte soll bitte danke entschuldigung "
        "entschuldigen hallo hi na also so mal doch denn eigentlich schon noch auch nur ja nein nicht kein keine "
        "und oder aber wenn dann von vom zu zum zur in im an am auf für mit über bei beim aus was wer wo wann wie "
        "warum welche welcher welches weißt wissen sie sagen sag sagt suche brauche finde hier da dort irgendwo "
        "jetzt heute gerade etwas irgendwas ob gehen geht kommen kommt gut gute guten beste sachen dinge produkte "
        "artikel nen ne euch eure euer irgendwelche irgendwer wen jemandem her hin vorbei rein raus drauf drin los "
        "mehr genug überhaupt bald gestern morgen früh abends morgens abend uhr eins zwei drei vier fünf sechs sieben "
        "acht neun zehn elf zwölf halb viertel woche monat tag tage tages heut sehen wert übrig komplett ganz alle "
        "alles viel viele lang lange immer zeit gut tüte packung flasche flaschen dose glas kiste tafel bund sorte "
        "marke".split()
        # Inflected pronouns and articles, prepositions, conjunctions, modal and auxiliary verbs
        # in their other persons, clitic "'s" forms: German says the same request with all of them.
        + "dein deine deinen deinem deiner dich euch eurem euren eurer ihrem ihrer ihres sein seine seinem seinen "
        "diese dieser diesen diesem dieses wem irgendjemand wird werden werde wirst wurde wurden willst wollen will "
        "möchten hätte hätten gern gerne bräuchte muss musst müssen darf dürfen sollen sollte ab bis um unter vor "
        "vorm nach seit ohne gegen durch neben vom ums aufs ins fürs dass damit weil als etwa ungefähr einfach eben "
        "halt frage fragen hat's geht's wird's ist's sieht's wie's tun mach machen machst lass lassen läuft "
        "laufen kurz weit ganze ganzen markt supermarkt filiale".split()
        # greetings and everyday forms of the south (Bavarian, Austrian, Swiss): "grüezi", "i hab",
        # "händ ihr", "isch", "öppis"; and the colloquial short forms ("hätt", "komm", "grad")
        + "grüezi grüß gott servus moin i hab hätt komm könnt seid händ hend isch chönd öppis gits hüt sonst "
        "gleich grad verlange verlangen schaut schauen tu".split()
    ),
}


Span = tuple[int, int, str | int | None, str]  # where a slot value is said: start, end, value, words
SlotHit = tuple[str, str, str | int, str, int, int]  # list, slot name, value, words, start, end


@dataclass(frozen=True, slots=True)
class _Group:
    words: frozenset[str]
    prefixes: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    lists: tuple[tuple[str, str], ...]  # (list, slot name)


@dataclass(frozen=True, slots=True)
class KeywordRule:
    intent: str
    groups: tuple[_Group, ...]
    vetoes: _Group | None
    source: str


class KeywordError(ValueError):
    pass


def _group(text: str, source: str) -> _Group:
    words: set[str] = set()
    prefixes: list[str] = []
    phrases: list[tuple[str, ...]] = []
    lists: list[tuple[str, str]] = []
    for option in (o.strip().lower() for o in text.split("|")):
        if not option:
            raise KeywordError(f"{source}: an empty alternative in {text!r}")
        if option.startswith("{") and option.endswith("}"):
            list_name, _, slot_name = option[1:-1].partition(":")
            lists.append((list_name, slot_name or list_name))
        elif " " in option:
            phrases.append(tuple(option.split()))
        elif option.endswith("*"):
            prefixes.append(option[:-1])
        else:
            words.add(option)
    return _Group(frozenset(words), tuple(prefixes), tuple(phrases), tuple(lists))


def parse_rule(intent: str, text: str, source: str) -> KeywordRule:
    """`group + group ! vetoes` (module docstring); KeywordError names the source."""
    wanted, _, vetoes = text.partition(" ! ")
    groups = tuple(_group(g, source) for g in wanted.split(" + "))
    return KeywordRule(intent, groups, _group(vetoes, source) if vetoes.strip() else None, source)


# Languages that write compounds as one word: "Vollkornbrot" is a kind of "Brot", so a word
# ending in a one-word value (of at least this many letters) says that value.
COMPOUNDING = frozenset({"de"})
MIN_COMPOUND_HEAD = 4
# Everyday words that end in a product's name without being a kind of it: a compound's head is
# its longest final word, so "Weihnachtsfeier" is a "Feier" (not "Eier"), "Geldautomaten" are
# "Automaten" (not "Tomaten"), "Sonderpreis" a "Preis" (not "Reis").
NOT_HEADS: Mapping[str, frozenset[str]] = {
    "de": frozenset(
        "feier feiern leier schleier geier schwein schweine automat automaten preis preise kreis kreise greis "
        "transport".split()
    ),
}


def _values_spans(tokens: Sequence[str], values: Iterable[SlotValue], compounds: bool, not_heads: frozenset[str] = frozenset()) -> list[Span]:
    """Every (start, end, value, raw) where a value of the list is said, longest first (a
    compound's head last)."""
    found: list[Span] = []
    heads: list[Span] = []
    for value in values:
        for sequence in _sayings(value.spoken):
            n = len(sequence)
            for start in range(len(tokens) - n + 1):
                if tuple(tokens[start : start + n]) == sequence:
                    found.append((start, start + n, value.value, " ".join(sequence)))
            if compounds and n == 1 and len(sequence[0]) >= MIN_COMPOUND_HEAD:
                heads.extend(
                    (i, i + 1, value.value, tokens[i]) for i, t in enumerate(tokens)
                    if t != sequence[0] and t.endswith(sequence[0]) and not any(t.endswith(w) and len(w) > len(sequence[0]) for w in not_heads)
                )
    if found:
        return sorted(found, key=lambda f: f[0] - f[1])
    return sorted(heads, key=lambda f: -len(str(f[3])))


def _sayings(node: Node) -> list[tuple[str, ...]]:
    """The word sequences a (small) slot value can be said as."""
    match node:
        case Word(spoken=spoken):
            return [(spoken,)]
        case ast.Sequence(items=items):
            out: list[tuple[str, ...]] = [()]
            for item in items:
                out = [a + b for a in out for b in _sayings(item)][:64]
            return out
        case Alternatives(options=options):
            return [s for o in options for s in _sayings(o)]
        case Optional(item=item):
            return [(), *_sayings(item)]
        case _:
            return []


@dataclass(frozen=True, slots=True)
class KeywordHit:
    intent: str
    score: int
    confidence: float
    explained: frozenset[int]  # token positions a key word or slot value explains
    slot: SlotHit | None


@dataclass(frozen=True)
class KeywordClassifier:
    rules: tuple[KeywordRule, ...]
    vocabulary: frozenset[str]  # the sentences' words and the language's neutral words
    compounds: bool = False  # a word ending in a slot value says it (COMPOUNDING languages)
    written: Mapping[str, list[SlotValue]] = field(default_factory=dict)  # lists with their written-only values
    not_heads: frozenset[str] = frozenset()  # words a compound may end in that are no slot value (NOT_HEADS)

    def classify(self, tokens: Sequence[str], lists: Mapping[str, list[SlotValue]], allowed: Iterable[str] | None) -> KeywordHit | None:
        """The intent whose most specific rule the words satisfy, with a confidence from the
        words nothing explains; None where no rule holds or two intents tie."""
        if not tokens:
            return None
        allowed_set = set(allowed) if allowed is not None else None
        spans = {name: _values_spans(tokens, self.written.get(name) or lists.get(name) or (), self.compounds, self.not_heads) for name in self._list_names}
        best: list[KeywordHit] = []
        for rule in self.rules:
            if allowed_set is not None and rule.intent not in allowed_set:
                continue
            if rule.vetoes is not None and _hits(rule.vetoes, tokens, spans) is not None:
                continue
            explained: set[int] = set()
            slot: SlotHit | None = None
            for group in rule.groups:
                heard = _hits(group, tokens, spans)
                if heard is None:
                    break
                explained |= heard[0]
                slot = slot or heard[1]
            else:
                candidate = KeywordHit(rule.intent, len(rule.groups), 0.0, frozenset(explained), slot)
                if not best or candidate.score > best[0].score:
                    best = [candidate]
                elif candidate.score == best[0].score and candidate.intent not in {b.intent for b in best}:
                    best.append(candidate)
        if len(best) != 1:
            return None  # no rule holds, or two intents are equally likely: not a guess to act on
        chosen = best[0]
        slot_tokens = set(range(chosen.slot[4], chosen.slot[5])) if chosen.slot else set()
        unknown = sum(1 for i, t in enumerate(tokens) if i not in chosen.explained and i not in slot_tokens and not self._known(t))
        confidence = round(max(0.0, CEILING - UNKNOWN_COST * unknown), 4)
        return KeywordHit(chosen.intent, chosen.score, confidence, chosen.explained, chosen.slot)

    @property
    def _list_names(self) -> set[str]:
        return {n for r in self.rules for g in (*r.groups, *((r.vetoes,) if r.vetoes else ())) for n, _ in g.lists}

    def _known(self, token: str) -> bool:
        # A clitic adds no request: "time's", "you'll", "what've", "habt's", "sperrt's" are known
        # where the word before the apostrophe is.
        base = token.split("'", 1)[0]
        return self._known_word(token) or (base != token and bool(base) and self._known_word(base))

    def _known_word(self, word: str) -> bool:
        return word in self.vocabulary or any(_group_has(r, word) for r in self.rules)


def _group_has(rule: KeywordRule, token: str) -> bool:
    return any(token in g.words or any(token.startswith(p) for p in g.prefixes) or any(token in ph for ph in g.phrases) for g in rule.groups)


def _hits(group: _Group, tokens: Sequence[str], spans: Mapping[str, list[Span]]) -> tuple[set[int], SlotHit | None] | None:
    """Positions the group explains (and the slot value it heard), or None where it is not heard."""
    at: set[int] = set()
    for i, token in enumerate(tokens):
        if token in group.words or any(token.startswith(p) for p in group.prefixes):
            at.add(i)
    for phrase in group.phrases:
        n = len(phrase)
        for start in range(len(tokens) - n + 1):
            if tuple(tokens[start : start + n]) == phrase:
                at |= set(range(start, start + n))
    slot: SlotHit | None = None
    for name, slot_name in group.lists:
        for start, end, value, raw in spans.get(name, ())[:1]:  # the longest value said
            slot = (name, slot_name, value if value is not None else raw, raw, start, end)
            at |= set(range(start, end))
        if slot:
            break
    return (at, slot) if at else None


def vocabulary(templates: Iterable[Template], rules: Mapping[str, Node], lists: Mapping[str, list[SlotValue]], language: str) -> frozenset[str]:
    """Every word the sentences and slot lists can say, and the language's neutral words."""
    words: set[str] = set(NEUTRAL.get(language, frozenset()))

    def walk(node: Node) -> None:
        match node:
            case Word(spoken=spoken):
                words.add(spoken)
            case ast.Sequence(items=items):
                for item in items:
                    walk(item)
            case Alternatives(options=options):
                for option in options:
                    walk(option)
            case Optional(item=item):
                walk(item)
            case RuleRef(name=name) if name in rules and name not in seen:
                seen.add(name)
                walk(rules[name])
            case _:
                pass

    seen: set[str] = set()
    for template in templates:
        walk(template.expression)
    for values in lists.values():
        for value in values:
            walk(value.spoken)
    return frozenset(words)
