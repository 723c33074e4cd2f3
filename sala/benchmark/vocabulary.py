"""Words for benchmark data: a regional news forum's vocabulary, names, forums, and the
sentences, paragraphs and titles made of them."""

from random import Random

# A small vocabulary written for Sala: a regional news forum's talk, enough to make
# sentences of realistic length and rhythm. Nothing here contains "@" (mentions).

_PLACES = (
    "Porto Lume", "Harbour Town", "Eastfield", "Marrow Bay", "Northgate", "Little Ashby",
    "Kessel", "Varnley", "Orrin Falls", "the old quarter", "Brightwater", "Sundale",
    "Halden", "Millbrook", "Caraway", "Fenwick", "Lowmoor", "Saint Aubin", "the hill villages",
    "the river district",
)  # fmt: skip
_ACTORS = (
    "the council", "the mayor", "the regional government", "the transport authority",
    "the residents' association", "the school board", "local shop owners", "the water company",
    "the hospital trust", "farmers in the valley", "the opposition", "a group of volunteers",
    "the planning committee", "the university", "the fire service", "the port authority",
    "the commuters' group", "the library staff", "the football club", "the weather service",
)  # fmt: skip
_THINGS = (
    "the tram line", "the new bridge", "the budget", "the bus timetable", "the river clean-up",
    "the housing plan", "the night market", "the bike lane plan", "the wind farm",
    "the library closure", "the parking charge", "the school merger", "the flood barrier",
    "the summer festival", "the broadband rollout", "the recycling scheme", "the ferry service",
    "the heat pump grant", "the old cinema", "the water bill", "the speed limit",
    "the harbour wall", "the rail strike", "the tourist tax", "the allotment scheme",
    "the hospital car park", "the street lighting", "the ring road", "the fishing quota",
    "the youth centre",
)  # fmt: skip
_VERBS = (
    "approved", "delayed", "rejected", "announced", "paid for", "scrapped", "reviewed",
    "promised", "questioned", "postponed", "expanded", "cut back", "defended", "redesigned",
)  # fmt: skip
_JUDGEMENTS = (
    "a good idea", "overdue", "too expensive", "a step in the right direction", "badly planned",
    "reasonable", "a bit optimistic", "long overdue", "cheap for what it is", "hard to justify",
    "the right call", "a distraction", "better than nothing", "a gamble",
)  # fmt: skip
_TIMES = ("week", "month", "spring", "year", "Tuesday", "autumn", "summer", "winter")
_PERIODS = ("year", "election", "winter", "budget season", "summer")
_DURATIONS = (
    "two years", "eighteen months", "a decade", "six weeks", "three council terms", "a winter",
)  # fmt: skip
_RELATIVES = ("sister", "neighbour", "cousin", "father", "colleague", "flatmate", "aunt")
_FILES = ("budget_2025.csv", "timetable-v2.pdf", "route_map.geojson", "survey-results.xlsx")
_HOSTS = (
    "news.example.org", "www.example.com", "council.example.net", "data.example.org",
    "blog.example.com", "radio.example.net",
)  # fmt: skip

_SENTENCES = (
    "I think {thing} is {judgement}, but {actor} should have asked people first.",
    "{Actor} {verb} {thing} last {time}, and nobody seems to know what happens next.",
    "Has anyone actually read the report on {thing}?",
    "We had the same argument in {place} about {thing} a few years ago.",
    "The numbers in the article don't add up: {amount} for {thing} sounds {judgement}.",
    "My {relative} works near {place} and says {thing} has made a real difference.",
    "Honestly, {thing} is the least of our problems right now.",
    "If {actor} can't explain the cost of {thing}, the vote should wait.",
    "Good point about {thing}, I hadn't thought of it that way.",
    "It took {duration} to get {thing} through the last time.",
    "That's not what the article says about {thing}, though.",
    "I'd like to see {actor} publish the full figures for {thing}.",
    "Can someone explain why {thing} costs {amount}?",
    "Every {period} we hear the same promise about {thing}.",
    "Compared to {place}, we're doing fine with {thing}.",
    "I went to the public meeting on {thing} and the hall was packed.",
    "{Actor} should talk to {actor2} before deciding anything about {thing}.",
    "For what it's worth, {thing} worked well in {place}.",
    "I'm not convinced, but I'm willing to be proved wrong about {thing}.",
    "Thanks for posting this, {thing} gets far too little coverage.",
    "Nobody in {place} asked for {thing}, as far as I can tell.",
    "Let's wait for the final decision on {thing} before we get angry.",
    "Apparently {actor} will vote on {thing} again next {time}.",
    "The last time {actor} {verb} something like this, prices went up.",
    "Same here: {thing} is all anyone talks about at work.",
    "I remember when {thing} was first proposed, back in {year}.",
    "What worries me is who pays for {thing} once the grant runs out.",
    "To be fair, {actor} did warn us about {thing} in {year}.",
    "A friend in {place} says the mood there is very different.",
    "The photo in the article is of {place}, not {place2}, by the way.",
    "People forget that {thing} was {judgement} when it was first built.",
    "I'd happily pay a bit more if it meant {thing} actually worked.",
    "{Actor} {verb} {thing} without a single public hearing.",
    "Has {actor} said anything about {thing2} yet?",
    "There's a petition going round about {thing}, if anyone is interested.",
    "The real question is whether {thing} survives the next {period}.",
    "I used to live in {place}, and {thing} was a problem even then.",
    "It's {judgement}, and I say that as someone who drives every day.",
    "My guess is that {thing} ends up costing twice as much.",
    "Either way, {thing} and {thing2} should be decided together.",
)
_LINK_SENTENCES = (
    "The full report is here: {url}",
    "There's a longer piece on this at {url} if you have the time.",
    "Source: [{host}]({url})",
    "{Actor} has the details on [its own page]({url}).",
    "More background in [this article from {year}]({url}).",
    "The figures are in `{file}` on the open data site.",
)
_QUOTE_OPENERS = ("", "", "", "From the article: ", "Quoting the council: ")
_LIST_INTROS = (
    "A few things I'd want to know first:",
    "What we know so far:",
    "My list, for what it's worth:",
    "Options on the table:",
)
_LIST_ITEMS = (
    "who pays for {thing}",
    "how long {thing} takes",
    "what happens to {thing2} in the meantime",
    "whether {actor} consulted anyone",
    "the cost per household",
    "{Thing}, which is {judgement}",
    "a vote in {place} first",
    "the timetable for {thing}",
)
ONE_LINERS = (
    "Agreed.", "Thanks for sharing this.", "Good point.", "Same here.", "Interesting, thanks!",
    "Not sure about that, to be honest.", "Well said.", "Any update on this?", "Following.",
    "Ha, fair enough.", "Exactly what I was going to say.", "Source?", "Makes sense.",
    "I'll believe it when I see it.", "Can confirm, I was there.",
    "Great write-up, thank you.", "That's a relief.", "Bookmarked.", "What a week.",
    "This is the best summary I've read so far.",
)  # fmt: skip
_TITLES = (
    "{Place} votes on {thing}",
    "What the decision on {thing} means for {place}",
    "{Actor} {verb} {thing}: what now?",
    "Is {thing} worth {amount}?",
    "{Thing} in {place}: updates and discussion",
    "Question about {thing}",
    "{Amount} for {thing}? Here's the breakdown",
    "Why {place} keeps arguing about {thing}",
    "{Place} residents react as {actor} {verb} {thing}",
    "After {duration}, {actor} {verb} {thing}",
    "Anyone else following {thing}?",
    "{Thing} and {thing2}: one plan or two?",
    "Opinion: {thing} is {judgement}",
    "Live thread: {thing} in {place}",
)

FIRST_NAMES = (
    "Marta", "Oskar", "Priya", "Tomasz", "Elena", "Rui", "Amara", "Jonas", "Sofia", "Mateo",
    "Hana", "Kwame", "Ingrid", "Luca", "Aisha", "Pavel", "Chloé", "Diego", "Yuki", "Femi",
    "Nora", "Arjun", "Leila", "Sven", "Camille", "Tariq", "Zofia", "Emeka", "Inês", "Bruno",
    "Mei", "Kofi", "Freya", "Omar", "Lucía", "Anders", "Nadia", "Thiago", "Sanne", "Giorgos",
    "Ayesha", "Mikael", "Rosa", "Hamid", "Elif", "Tobias", "Ana", "Jakub", "Mariam", "Finn",
)  # fmt: skip
LAST_NAMES = (
    "Quintero", "Lind", "Natarajan", "Nowak", "Duarte", "Calado", "Okafor", "Berg", "Rossi",
    "García", "Sato", "Mensah", "Halvorsen", "Bianchi", "Rahman", "Dvořák", "Lefèvre",
    "Morales", "Tanaka", "Adeyemi", "Keller", "Sharma", "Haddad", "Johansson", "Moreau",
    "Aziz", "Kowalska", "Eze", "Ferreira", "Costa", "Chen", "Owusu", "Larsen", "Farouk",
    "Romero", "Nilsson", "Petrenko", "Almeida", "de Vries", "Papadopoulos", "Khan",
    "Virtanen", "Silva", "Karimi", "Öztürk", "Weber", "Santos", "Novák", "Ali", "Murphy",
)  # fmt: skip
# Names in other scripts: (display name, username in the same script).
OTHER_SCRIPT_NAMES = (
    ("Ольга Петрова", "ольга"), ("Дмитрий Соколов", "дмитрий"), ("Νίκος Παππάς", "νίκος"),
    ("Ελένη Γεωργίου", "ελένη"), ("佐藤 花子", "花子"), ("田中 健", "田中"), ("김민지", "민지"),
    ("이준호", "준호"), ("أحمد منصور", "أحمد"), ("Nguyễn Thị Lan", "lan.nguyen"),
)  # fmt: skip

CATEGORIES = ("News and politics", "Community", "Life in the region", "Interests")
#: (name, description, whether its topics usually share an article)
FORUMS = (
    ("News", "Articles from around the region, shared by members and talked over.", True),
    ("Politics", "Councils, elections and the decisions that follow them.", True),
    ("Transport", "Trams, trains, buses, bikes and the roads between them.", True),
    ("General discussion", "Introductions, questions, and this community itself.", False),
    ("Local events", "Markets, festivals, meetings and what's on this weekend.", False),
    ("Help and feedback", "Questions about this forum and how it works.", False),
    ("Science and environment", "Weather, rivers, energy and research nearby.", True),
    ("Sport", "Clubs, results and the arguments after the match.", True),
    ("Housing", "Rents, building plans and neighbourhoods.", True),
    ("Food and drink", "Markets, recipes and where to eat.", False),
    ("Books and film", "What we're reading and watching.", False),
    ("Work and money", "Jobs, prices and the local economy.", True),
)


def _amount(rng: Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.randint(2, 95)} million euros"
    return f"€{rng.randint(12, 990)},000"


def _fill(template: str, rng: Random, *, emphasis: bool = False) -> str:
    """Return `template` with its blanks filled from the vocabulary."""
    thing = rng.choice(_THINGS)
    if emphasis:
        mark = "**" if rng.random() < 0.5 else "*"
        thing = f"{mark}{thing}{mark}"
    actor = rng.choice(_ACTORS)
    place = rng.choice(_PLACES)
    amount = _amount(rng)
    words = {
        "thing": thing,
        "thing2": rng.choice(_THINGS),
        "actor": actor,
        "actor2": rng.choice(_ACTORS),
        "place": place,
        "place2": rng.choice(_PLACES),
        "verb": rng.choice(_VERBS),
        "judgement": rng.choice(_JUDGEMENTS),
        "amount": amount,
        "time": rng.choice(_TIMES),
        "period": rng.choice(_PERIODS),
        "duration": rng.choice(_DURATIONS),
        "relative": rng.choice(_RELATIVES),
        "year": str(rng.randint(1998, 2024)),
        "file": rng.choice(_FILES),
        "host": rng.choice(_HOSTS),
        "url": _url(rng),
        "Thing": _capitalise(thing),
        "Actor": _capitalise(actor),
        "Place": _capitalise(place),
        "Amount": _capitalise(amount),
    }
    return template.format_map(words)


def _capitalise(text: str) -> str:
    start = len(text) - len(text.lstrip("*"))
    return text[:start] + text[start : start + 1].upper() + text[start + 1 :]


def _url(rng: Random) -> str:
    words = "-".join(rng.choice(_THINGS).split()[1:] + rng.choice(_PLACES).lower().split())
    return (
        f"https://{rng.choice(_HOSTS)}/{rng.randint(2019, 2025)}/{rng.randint(1, 12):02d}/{words}"
    )


def _sentence(rng: Random) -> str:
    if rng.random() < 0.06:
        return _fill(rng.choice(_LINK_SENTENCES), rng)
    return _fill(rng.choice(_SENTENCES), rng, emphasis=rng.random() < 0.05)


def plain_paragraph(rng: Random) -> str:
    """Return a paragraph of one to five sentences."""
    sentences = [_sentence(rng) for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5)))]
    if len(sentences) > 1 and rng.random() < 0.06:  # a line break the member typed
        return " ".join(sentences[:-1]) + "\n" + sentences[-1]
    return " ".join(sentences)


def quote_paragraph(rng: Random) -> str:
    """Return a quotation of one or two lines."""
    lines = [_sentence(rng) for _ in range(rng.choice((1, 1, 2)))]
    return "> " + rng.choice(_QUOTE_OPENERS) + "\n> ".join(lines)


def list_paragraph(rng: Random) -> str:
    """Return a list of two to five items, with its introduction."""
    marker = "-" if rng.random() < 0.7 else "1."
    items = rng.sample(_LIST_ITEMS, rng.randint(2, 5))
    lines = [
        f"{marker if marker == '-' else f'{n}.'} {_fill(item, rng)}"
        for n, item in enumerate(items, 1)
    ]
    return rng.choice(_LIST_INTROS) + "\n" + "\n".join(lines)


def make_title(rng: Random) -> str:
    """Return a topic title of realistic length, from the vocabulary."""
    return _capitalise(_fill(rng.choice(_TITLES), rng))
